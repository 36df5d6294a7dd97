"""Stock operations other than selling: stocktakes (with their variance report), transfers
between stores (out of the sender when sent, in transit, into the receiver when received),
damage and loss write-offs. Each books its moves through the ledger in the caller's
transaction; each is keyed by an id of its own, so a retry books nothing twice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from hub.stock import ledger
from hub.stock.ledger import Move, StockError
from hub.stock.models import StockMove, StocktakeLine, Transfer, TransferLine
from hub.stores.models import Store


def require_store(s: Session, store: str) -> None:
    if s.get(Store, store) is None:
        raise StockError(f"no store {store}", 422)


def stocktake(
    s: Session,
    count_id: str,
    store: str,
    lines: list[dict[str, Any]],
    *,
    counted_by: str,
    at: datetime,
    event_id: str | None = None,
) -> list[dict[str, Any]]:
    """Each counted SKU's on-hand becomes the count: the difference is a stocktake move, and
    the variance report keeps expected, counted and variance. The same count again is a retry."""
    if s.scalar(select(StocktakeLine.count_id).where(StocktakeLine.count_id == count_id).limit(1)):
        return variance(s, count_id)
    before = ledger.balances(s, [(store, ln["sku"]) for ln in lines])
    report, moves = [], []
    for n, ln in enumerate(lines, 1):
        b = before.get((store, ln["sku"]))
        expected = b.on_hand_milli if b else 0
        diff = ln["counted_milli"] - expected
        report.append(
            {
                "count_id": count_id,
                "sku": ln["sku"],
                "store_id": store,
                "expected_milli": expected,
                "counted_milli": ln["counted_milli"],
                "variance_milli": diff,
                "counted_by": counted_by,
                "counted_at": at,
            }
        )
        if diff:
            moves.append(Move(store, ln["sku"], "stocktake", diff, event_id, n, count_id))
    s.execute(insert(StocktakeLine), report)
    ledger.post(s, moves, at)
    return variance(s, count_id)


def variance(s: Session, count_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(StocktakeLine).where(StocktakeLine.count_id == count_id).order_by(StocktakeLine.sku)
    )
    return [
        {
            "sku": r.sku,
            "store_id": r.store_id,
            "expected_milli": r.expected_milli,
            "counted_milli": r.counted_milli,
            "variance_milli": r.variance_milli,
            "counted_by": r.counted_by,
            "counted_at": r.counted_at.isoformat(),
        }
        for r in rows
    ]


def write_off(
    s: Session, store: str, sku: str, kind: str, qty_milli: int, at: datetime, ref: str
) -> dict[str, Any]:
    """Damage or loss: goods leave the stock without a sale (`ref` keys the write-off)."""
    if kind not in ("damage", "loss"):
        raise StockError(f"a write-off is damage or loss, not {kind!r}", 422)
    require_store(s, store)
    if s.scalar(select(StockMove.n).where(StockMove.ref == ref, StockMove.kind == kind).limit(1)):
        raise StockError(f"write-off {ref} is already booked")
    after = ledger.post(s, [Move(store, sku, kind, -qty_milli, ref=ref)], at)
    b = after[(store, sku)]
    return {"store_id": store, "sku": sku, "on_hand_milli": b.on_hand_milli}


def send_transfer(
    s: Session,
    from_store: str,
    to_store: str,
    lines: dict[str, int],
    at: datetime,
    transfer_id: str | None = None,
) -> dict[str, Any]:
    require_store(s, from_store)
    require_store(s, to_store)
    if from_store == to_store:
        raise StockError("a transfer goes to another store", 422)
    tid = transfer_id or str(uuid.uuid4())
    if s.get(Transfer, tid) is not None:
        raise StockError(f"transfer {tid} already exists")
    s.add(
        Transfer(id=tid, from_store=from_store, to_store=to_store, state="in_transit", sent_at=at)
    )
    s.flush()
    s.execute(
        insert(TransferLine),
        [
            {"transfer_id": tid, "sku": k, "qty_milli": q, "received_milli": 0}
            for k, q in lines.items()
        ],
    )
    ledger.post(
        s, [Move(from_store, k, "transfer_out", -q, ref=tid) for k, q in sorted(lines.items())], at
    )
    return transfer_view(s, tid)


def receive_transfer(
    s: Session, transfer_id: str, at: datetime, received: dict[str, int] | None = None
) -> dict[str, Any]:
    """The receiving store books what arrived (by default all that was sent); a shortfall
    stays visible on the transfer's lines (sent vs received)."""
    got = s.execute(
        update(Transfer)
        .where(Transfer.id == transfer_id, Transfer.state == "in_transit")
        .values(state="received", received_at=at)
    )
    if got.rowcount != 1:
        t = s.get(Transfer, transfer_id)
        raise StockError(
            f"no transfer {transfer_id}" if t is None else f"transfer {transfer_id} is {t.state}",
            404 if t is None else 409,
        )
    t = s.get(Transfer, transfer_id)
    moves = []
    for ln in s.scalars(select(TransferLine).where(TransferLine.transfer_id == transfer_id)):
        q = ln.qty_milli if received is None else received.get(ln.sku, 0)
        ln.received_milli = q
        if q:
            moves.append(Move(t.to_store, ln.sku, "transfer_in", q, ref=transfer_id))
    s.flush()
    ledger.post(s, moves, at)
    return transfer_view(s, transfer_id)


def transfer_view(s: Session, transfer_id: str) -> dict[str, Any]:
    t = s.get(Transfer, transfer_id)
    if t is None:
        raise StockError(f"no transfer {transfer_id}", 404)
    lines = s.scalars(
        select(TransferLine)
        .where(TransferLine.transfer_id == transfer_id)
        .order_by(TransferLine.sku)
    )
    return {
        "id": t.id,
        "from_store": t.from_store,
        "to_store": t.to_store,
        "state": t.state,
        "sent_at": t.sent_at.isoformat(),
        "received_at": t.received_at.isoformat() if t.received_at else None,
        "lines": [
            {"sku": x.sku, "qty_milli": x.qty_milli, "received_milli": x.received_milli}
            for x in lines
        ],
    }
