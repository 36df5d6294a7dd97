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
from sqlalchemy.orm import Session

import hub.sales.service  # noqa: F401 - registered first: the sale is booked, then its stock moves
from hub.forecast import packed
from hub.purchasing import service as purchasing
from hub.stock import ledger, service
from hub.stores.models import Store
from protocols.envelope import Envelope


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


_DEMAND = (
    "INSERT INTO stock_daily_demand (store_id, sku, day, sold_milli, refunded_milli) {} "
    "ON CONFLICT (store_id, sku, day) DO UPDATE SET "
    "sold_milli = stock_daily_demand.sold_milli + excluded.sold_milli, "
    "refunded_milli = stock_daily_demand.refunded_milli + excluded.refunded_milli"
)


def _add_demand(s: Session, rows: dict[tuple[str, str, date], tuple[int, int]]) -> None:
    """One upsert per pass, in key order (two workers lock rows in the same order); a day the
    forecast's blocks already hold is marked late (hub/forecast/packed.py)."""
    if not rows:
        return
    packed.mark_late(s, rows)
    conn = s.connection()
    keys = sorted(rows)
    if conn.dialect.name == "postgresql":  # one statement of arrays, not a round per row
        conn.exec_driver_sql(
            _DEMAND.format(
                "SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::date[], %s::bigint[], "
                "%s::bigint[])"
            ),
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [rows[k][0] for k in keys],
                [rows[k][1] for k in keys],
            ),
        )
        return
    conn.exec_driver_sql(
        _DEMAND.format("VALUES (?, ?, ?, ?, ?)"),
        [(k[0], k[1], k[2].isoformat(), *rows[k]) for k in keys],
    )
