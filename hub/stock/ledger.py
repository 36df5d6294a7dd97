"""The ledger's one way in: `post` writes moves and moves the balances with them, in the
caller's transaction; `reserve` / `unreserve` move the reserved quantity. Both re-check the
balances they touched and raise or clear alerts (on hand below zero; more reserved than on
hand). Nothing here refuses a sale: stock may go negative, and that is an alert, not an error.

Balances are upserted in (store, sku) order, so two hub workers touching the same SKUs lock
their rows in the same order and cannot deadlock each other."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.stock import restock
from hub.stock.models import StockAlert, StockBalance, StockMove
from transport.ids import new_id

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (store, sku)
RESTOCKING = frozenset({"received", "transfer_in"})  # moves that can bring a SKU back


class StockError(Exception):
    """A stock operation refused: it conflicts with what is booked (hub/http_errors.py: 409)."""


class StockNotFound(StockError):
    """What the operation names does not exist (404)."""


class StockInvalid(StockError):
    """The request itself is wrong (422)."""


class Move(NamedTuple):  # a tuple: the ingest path makes one per sale line
    store: str
    sku: str
    kind: str
    qty_milli: int  # signed
    event_id: str | None = None  # with its line n: the move's key (else one is drawn)
    n: int = 0
    ref: str | None = None


@dataclass(frozen=True)
class Balance:
    on_hand_milli: int
    reserved_milli: int

    @property
    def available_milli(self) -> int:
        return self.on_hand_milli - self.reserved_milli


def post(s: Session, moves: Sequence[Move], at: datetime | None = None) -> dict[Key, Balance]:
    """Book the moves and their balances; returns the balances after, per key touched."""
    if not moves:
        return {}
    at = at or utcnow()
    _insert_moves(s, moves, at)
    delta: dict[Key, int] = defaultdict(int)
    restocking: set[Key] = set()
    for m in moves:
        delta[(m.store, m.sku)] += m.qty_milli
        if m.kind in RESTOCKING:
            restocking.add((m.store, m.sku))
    after = _move(s, {k: (d, 0) for k, d in delta.items()}, at)
    back = [
        k
        for k in sorted(restocking)
        if after[k].available_milli > 0 >= after[k].available_milli - delta[k]
    ]
    if back:
        restock.detected(s, back, at)  # the back-in-stock notices
    return after


# PostgreSQL: the whole list in one statement, as arrays (executemany costs a round of the
# pipeline per row: it made the moves cost as much as booking the sales themselves)
_INSERT = "INSERT INTO stock_moves (store_id, sku, kind, qty_milli, move_id, n, ref, at) "
_UNNEST = (
    _INSERT + "SELECT *, %s FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], "
    "%s::bigint[], %s::varchar[], %s::int[], %s::varchar[])"
)


def _insert_moves(s: Session, moves: Sequence[Move], at: datetime) -> None:
    if any(m.event_id is None for m in moves):
        key = new_id()  # one booking: its moves numbered in order
        moves = [m if m.event_id else m._replace(event_id=key, n=i) for i, m in enumerate(moves, 1)]
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        columns = [list(c) for c in zip(*moves, strict=True)]
        conn.exec_driver_sql(_UNNEST, (at, *columns))
        return
    bind = StockMove.__table__.c.at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    when = bind(at) if bind else at
    conn.exec_driver_sql(_INSERT + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(*m, when) for m in moves])


def reserve(s: Session, store: str, lines: dict[str, int], at: datetime) -> None:
    """Hold quantities for an order, all or none: each SKU must have them available now
    (one conditional UPDATE per SKU, so two orders cannot both take the last piece)."""
    for sku in sorted(lines):
        qty = lines[sku]
        got = s.execute(
            update(StockBalance)
            .where(
                StockBalance.store_id == store,
                StockBalance.sku == sku,
                StockBalance.on_hand_milli - StockBalance.reserved_milli >= qty,
            )
            .values(reserved_milli=StockBalance.reserved_milli + qty, updated_at=at)
        )
        if got.rowcount != 1:
            have = s.get(StockBalance, (store, sku))
            left = have.on_hand_milli - have.reserved_milli if have else 0
            raise StockError(f"{sku}: {qty} wanted, {max(left, 0)} available in {store}")


def unreserve(
    s: Session, store: str, lines: dict[str, int], at: datetime, *, taken: bool = False
) -> None:
    """Release held quantities; `taken`: the goods left the store with them (a pickup)."""
    if taken:
        moves = [Move(store, sku, "pickup", -q) for sku, q in sorted(lines.items())]
        post(s, moves, at)
    _move(s, {(store, sku): (0, -q) for sku, q in lines.items()}, at)


def _move(s: Session, deltas: dict[Key, tuple[int, int]], at: datetime) -> dict[Key, Balance]:
    """Add (on hand, reserved) deltas to the balances, creating missing ones; check alerts.
    Reserved moves by UPDATE only (a hold needs its balance): SQLite checks an upsert's
    CHECKs on the row it would insert, so a negative delta there fails even on conflict."""
    rows = [
        {
            "store_id": k[0],
            "sku": k[1],
            "on_hand_milli": d[0],
            "reserved_milli": 0,
            "updated_at": at,
        }
        for k, d in sorted(deltas.items())
        if d[0]
    ]
    if rows:
        ins = (pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert)(
            StockBalance
        )
        t = StockBalance.__table__
        s.execute(
            ins.on_conflict_do_update(
                index_elements=["store_id", "sku"],
                set_={
                    "on_hand_milli": t.c.on_hand_milli + ins.excluded.on_hand_milli,
                    "updated_at": ins.excluded.updated_at,
                },
            ),
            rows,
        )
    for (store, sku), (_, held) in sorted(deltas.items()):
        if held:
            s.execute(
                update(StockBalance)
                .where(StockBalance.store_id == store, StockBalance.sku == sku)
                .values(reserved_milli=StockBalance.reserved_milli + held, updated_at=at)
            )
    after = balances(s, deltas)
    _check_alerts(s, after, at)
    return after


def balances(s: Session, keys: Iterable[Key]) -> dict[Key, Balance]:
    keys = list(keys)
    out: dict[Key, Balance] = {}
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        q = select(
            StockBalance.store_id,
            StockBalance.sku,
            StockBalance.on_hand_milli,
            StockBalance.reserved_milli,
        ).where(tuple_(StockBalance.store_id, StockBalance.sku).in_(part))
        out.update({(r[0], r[1]): Balance(r[2], r[3]) for r in s.execute(q)})
    return out


def _trouble(b: Balance) -> dict[str, bool]:
    return {
        "negative": b.on_hand_milli < 0,
        "overreserved": b.reserved_milli > 0 and b.reserved_milli > b.on_hand_milli,
    }


def _check_alerts(s: Session, after: dict[Key, Balance], at: datetime) -> None:
    keys = list(after)
    open_: dict[tuple[str, str, str], int] = {}
    for i in range(0, len(keys), 500):
        q = select(StockAlert.store_id, StockAlert.sku, StockAlert.kind, StockAlert.id).where(
            StockAlert.cleared_at.is_(None),
            tuple_(StockAlert.store_id, StockAlert.sku).in_(keys[i : i + 500]),
        )
        open_.update({(r[0], r[1], r[2]): r[3] for r in s.execute(q)})
    raise_: list[dict[str, Any]] = []
    clear: list[int] = []
    for (store, sku), b in after.items():
        for kind, bad in _trouble(b).items():
            have = open_.get((store, sku, kind))
            if bad and have is None:
                log.warning(
                    "stock alert %s: %s in %s, on hand %s, reserved %s",
                    kind,
                    sku,
                    store,
                    b.on_hand_milli,
                    b.reserved_milli,
                )
                raise_.append(
                    {
                        "store_id": store,
                        "sku": sku,
                        "kind": kind,
                        "on_hand_milli": b.on_hand_milli,
                        "reserved_milli": b.reserved_milli,
                        "raised_at": at,
                        "published": False,
                    }
                )
            elif not bad and have is not None:
                clear.append(have)
    if raise_:
        s.execute(insert(StockAlert), raise_)
    if clear:
        s.execute(
            update(StockAlert)
            .where(StockAlert.id.in_(clear))
            .values(cleared_at=at, published=False)
        )


def verify(s: Session, store: str | None = None) -> list[dict[str, Any]]:
    """Balances that disagree with their ledger (sum of moves): none, if all is well."""
    sums = select(
        StockMove.store_id, StockMove.sku, func.sum(StockMove.qty_milli).label("total")
    ).group_by(StockMove.store_id, StockMove.sku)
    if store is not None:
        sums = sums.where(StockMove.store_id == store)
    ledger = {(r[0], r[1]): int(r[2]) for r in s.execute(sums)}
    q = select(StockBalance.store_id, StockBalance.sku, StockBalance.on_hand_milli)
    if store is not None:
        q = q.where(StockBalance.store_id == store)
    books = {(r[0], r[1]): r[2] for r in s.execute(q)}
    return [
        {
            "store_id": k[0],
            "sku": k[1],
            "ledger_milli": ledger.get(k, 0),
            "balance_milli": books.get(k, 0),
        }
        for k in sorted(set(ledger) | set(books))
        if ledger.get(k, 0) != books.get(k, 0)
    ]


def open_alerts(s: Session, store: str | None = None) -> list[dict[str, Any]]:
    q = select(StockAlert).where(StockAlert.cleared_at.is_(None)).order_by(StockAlert.id)
    if store is not None:
        q = q.where(StockAlert.store_id == store)
    return [alert_view(a) for a in s.scalars(q)]


def alert_view(a: StockAlert) -> dict[str, Any]:
    return {
        "id": a.id,
        "store_id": a.store_id,
        "sku": a.sku,
        "kind": a.kind,
        "on_hand_milli": a.on_hand_milli,
        "reserved_milli": a.reserved_milli,
        "raised_at": a.raised_at.isoformat(),
        "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None,
    }
