"""The points ledger's methods for the lanes' online calls (hub/rpc.py): reserve points at the
till, commit them to the sale, release them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.loyalty.models import PointsReservation
from hub.loyalty.service import Ledger
from hub.members.service import survivor
from hub.rpc import Caller, Method


def reserve(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    owner = survivor(s, p.member_id)
    led = Ledger(s)
    r = led.reserve(
        p.reservation_id,
        owner,
        p.points,
        store_id=caller.store,
        gateway_id=caller.gateway,
        lane=caller.lane,
        ttl_s=p.ttl_s,
    )
    return _held(led, r)


def commit(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    led = Ledger(s)
    return _held(led, led.commit(p.reservation_id, sale_id=p.sale_id, store_id=caller.store))


def release(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    led = Ledger(s)
    return _held(led, led.release(p.reservation_id))


def _held(led: Ledger, r: PointsReservation) -> dict[str, Any]:
    return {
        "reservation_id": r.id,
        "member_id": r.member_id,
        "points": r.points,
        "value_fen": r.value_fen,
        "status": r.status,
        "expires_at": r.expires_at.isoformat(),
        "available": led.available(r.member_id),
    }


METHODS: dict[str, Method] = {
    "points.reserve": reserve,
    "points.commit": commit,
    "points.release": release,
}
