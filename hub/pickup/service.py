"""An online order reserves its goods in the chosen store (all lines or none; each SKU must
be available then), the store's lane completes the pickup (the goods leave the stock and the
hold ends), and a hold not picked up by its expiry is released by the job.

Every end of a hold is one conditional UPDATE from `held`: a pickup racing the expiry job
ends the hold exactly once, and only that one moves the stock."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from hub.pickup.models import PickupLine, PickupOrder
from hub.stock import ledger
from hub.stock.ledger import StockError
from hub.stores.models import Store

log = logging.getLogger(__name__)

HOLD_HOURS = 48


def reserve(
    s: Session,
    order_id: str,
    store: str,
    lines: dict[str, int],
    now: datetime,
    *,
    hold_s: int | None = None,
    member_id: str | None = None,
) -> dict[str, Any]:
    have = s.get(PickupOrder, order_id)
    if have is not None:
        if have.store_id != store or _lines(s, order_id) != lines:
            raise StockError(f"order {order_id} already holds other goods")
        return view(s, order_id)  # a retry
    if s.get(Store, store) is None:
        raise StockError(f"no store {store}", 422)
    expires = now + timedelta(seconds=hold_s if hold_s is not None else HOLD_HOURS * 3600)
    s.add(
        PickupOrder(
            id=order_id,
            store_id=store,
            member_id=member_id,
            state="held",
            created_at=now,
            expires_at=expires,
        )
    )
    s.flush()
    s.execute(
        insert(PickupLine),
        [{"order_id": order_id, "sku": k, "qty_milli": q} for k, q in lines.items()],
    )
    ledger.reserve(s, store, lines, now)
    return view(s, order_id)


def _lines(s: Session, order_id: str) -> dict[str, int]:
    return dict(
        s.execute(
            select(PickupLine.sku, PickupLine.qty_milli).where(PickupLine.order_id == order_id)
        ).all()
    )


def _end(
    s: Session, order_id: str, state: str, now: datetime, by: str | None, store: str | None = None
) -> bool:
    q = update(PickupOrder).where(PickupOrder.id == order_id, PickupOrder.state == "held")
    if store is not None:
        q = q.where(PickupOrder.store_id == store)
    if state == "expired":
        q = q.where(PickupOrder.expires_at <= now)
    got = s.execute(q.values(state=state, closed_at=now, closed_by=by))
    if got.rowcount != 1:
        return False
    o = s.get(PickupOrder, order_id)
    ledger.unreserve(s, o.store_id, _lines(s, order_id), now, taken=state == "picked_up")
    return True


def complete(s: Session, order_id: str, store: str, now: datetime, by: str) -> dict[str, Any]:
    """The lane hands the order over (only in its own store, only while held)."""
    if not _end(s, order_id, "picked_up", now, by, store):
        o = s.get(PickupOrder, order_id)
        if o is None or o.store_id != store:
            raise StockError(f"no pickup order {order_id} in {store}", 404)
        if o.state == "picked_up":
            return view(s, order_id)  # the lane's retry
        raise StockError(f"order {order_id} is {o.state}")
    log.info("pickup %s handed over in %s by %s", order_id, store, by)
    return view(s, order_id)


def cancel(s: Session, order_id: str, now: datetime) -> dict[str, Any]:
    if not _end(s, order_id, "released", now, "hq"):
        o = s.get(PickupOrder, order_id)
        raise StockError(
            f"no pickup order {order_id}" if o is None else f"order {order_id} is {o.state}",
            404 if o is None else 409,
        )
    return view(s, order_id)


def expire(s: Session, now: datetime, limit: int = 500) -> int:
    """Release the holds past their expiry (the job; `now` is an argument so tests move time)."""
    due = s.scalars(
        select(PickupOrder.id)
        .where(PickupOrder.state == "held", PickupOrder.expires_at <= now)
        .order_by(PickupOrder.expires_at)
        .limit(limit)
    ).all()
    n = sum(_end(s, oid, "expired", now, "expiry") for oid in due)
    if n:
        log.info("released %s expired pickup holds", n)
    return n


def view(s: Session, order_id: str) -> dict[str, Any]:
    o = s.get(PickupOrder, order_id)
    if o is None:
        raise StockError(f"no pickup order {order_id}", 404)
    return {
        "id": o.id,
        "store_id": o.store_id,
        "member_id": o.member_id,
        "state": o.state,
        "created_at": o.created_at.isoformat(),
        "expires_at": o.expires_at.isoformat(),
        "closed_at": o.closed_at.isoformat() if o.closed_at else None,
        "lines": [{"sku": k, "qty_milli": q} for k, q in sorted(_lines(s, order_id).items())],
    }
