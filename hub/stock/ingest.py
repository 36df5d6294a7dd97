"""What the stores' events do to stock, inside ingest's transaction (registered after the sales
books, so a sale and its stock move commit together):

sale.completed   each line moves its quantity out (grams for weighed goods) and adds to the
                 day's demand; never refused, whatever the stock
sale.refunded    each line moves its quantity back in at the refunding store (the goods are
                 there, whatever the money's fate)
stock.counted    a stocktake (hub/stock/service.py)
stock.received   goods received, against a PO or not (hub/purchasing/service.py)

A move carries its event's id and line number, unique: a replayed event moves nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import hub.sales.service  # noqa: F401 - registered first: the sale is booked, then its stock moves
from hub.ingest.handlers import handles
from hub.purchasing import service as purchasing
from hub.stock import ledger, service
from hub.stock.models import DailyDemand
from hub.stores.models import Store
from protocols.envelope import Envelope


@handles("sale.completed")
def sales_move_stock(s: Session, envs: list[Envelope]) -> None:
    moves = []
    demand: dict[tuple[str, str, date], int] = defaultdict(int)
    for env in envs:
        day = date.fromisoformat(env.body["business_day"])
        for n, ln in enumerate(env.body["lines"], 1):
            moves.append(ledger.Move(env.store, ln["sku"], "sale", -ln["qty_milli"], env.id, n))
            demand[(env.store, ln["sku"], day)] += ln["qty_milli"]
    ledger.post(s, moves)
    _add_demand(s, {k: (q, 0) for k, q in demand.items()})


@handles("sale.refunded")
def refunds_move_stock(s: Session, envs: list[Envelope]) -> None:
    zones = dict(
        s.execute(select(Store.id, Store.tz).where(Store.id.in_({e.store for e in envs}))).all()
    )
    moves = []
    demand: dict[tuple[str, str, date], int] = defaultdict(int)
    for env in envs:
        day = env.occurred_at.astimezone(ZoneInfo(zones.get(env.store) or "Asia/Shanghai")).date()
        for n, ln in enumerate(env.body["lines"], 1):
            moves.append(ledger.Move(env.store, ln["sku"], "refund", ln["qty_milli"], env.id, n))
            demand[(env.store, ln["sku"], day)] += ln["qty_milli"]
    ledger.post(s, moves)
    _add_demand(s, {k: (0, q) for k, q in demand.items()})


@handles("stock.counted")
def stocktakes(s: Session, envs: list[Envelope]) -> None:
    for env in envs:
        b = env.body
        service.stocktake(
            s,
            b["count_id"],
            env.store,
            b["lines"],
            counted_by=b["counted_by"],
            at=env.occurred_at,
            event_id=env.id,
        )


@handles("stock.received")
def goods_received(s: Session, envs: list[Envelope]) -> None:
    for env in envs:
        b = env.body
        purchasing.receive(
            s,
            b["receipt_id"],
            env.store,
            b["lines"],
            received_by=b["received_by"],
            at=env.occurred_at,
            po_id=b["po_id"],
            note=b["note"],
            event_id=env.id,
            strict=False,
        )


def _add_demand(s: Session, rows: dict[tuple[str, str, date], tuple[int, int]]) -> None:
    if not rows:
        return
    ins = (pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert)(DailyDemand)
    t = DailyDemand.__table__
    s.execute(
        ins.on_conflict_do_update(
            index_elements=["store_id", "sku", "day"],
            set_={
                "sold_milli": t.c.sold_milli + ins.excluded.sold_milli,
                "refunded_milli": t.c.refunded_milli + ins.excluded.refunded_milli,
            },
        ),
        [
            {"store_id": k[0], "sku": k[1], "day": k[2], "sold_milli": v[0], "refunded_milli": v[1]}
            for k, v in sorted(rows.items())
        ],
    )
