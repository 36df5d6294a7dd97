"""Coupons' methods for the lanes' online calls (hub/rpc.py): check a coupon against a basket;
reserve, commit and release a lane's hold on it (hub/coupons/holds.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.orm import Session

from hub.coupons import holds
from hub.coupons import service as coupons
from hub.loyalty.service import settings
from hub.members.service import survivor
from hub.members.survivors import resolve
from hub.rpc import Caller, Method


def check(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    owner = resolve(s, [p.member_id]).get(p.member_id) if p.member_id else None
    return coupons.check(
        s, p.code, member_id=owner, lines=p.lines, store=caller.store, other_codes=p.other_codes
    )


def reserve(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    owner = survivor(s, p.member_id) if p.member_id else None
    hold = holds.reserve(
        s,
        p.reservation_id,
        p.code,
        caller=_holder(caller),
        member_id=owner,
        lines=p.lines,
        other_codes=p.other_codes,
        ttl_s=p.ttl_s or settings(s).reservation_ttl_s,
    )
    # the coupon's terms and name: a lane prices its basket with the engine from exactly the
    # terms the hub recomputes the sale with (hub/pricing), and prints the name
    c, t = coupons.load(s, hold.code)
    terms = msgspec.to_builtins(coupons.terms(c, t))
    return {**holds.describe(hold), "name": t.name, "terms": terms}


def commit(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    if not p.sale_id:
        raise coupons.CouponRequestInvalid("coupon.commit needs the sale_id")
    return holds.describe(holds.commit(s, p.reservation_id, p.sale_id, _holder(caller)))


def release(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    return holds.describe(holds.release(s, p.reservation_id, _holder(caller)))


def _holder(caller: Caller) -> holds.Caller:
    return holds.Caller(caller.store, caller.gateway, caller.lane)


METHODS: dict[str, Method] = {
    "coupon.check": check,
    "coupon.reserve": reserve,
    "coupon.commit": commit,
    "coupon.release": release,
}
