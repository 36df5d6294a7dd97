"""A lane claims a coupon before it grants the discount: reserve → commit (its sale is booked)
or release (the cashier cancelled), with a timeout after which the coupon is free again.

The claim lives on the coupon's own row (`hold_id`, `held_until`) and is taken by one
conditional UPDATE after the row is locked, so of any number of lanes reserving one coupon at
once exactly one holds it; redemption (hub/coupons/service.py `redeem`) decides on the same
row, so a sale without the hold cannot take a coupon another lane holds. The hold id is the
lane's: a retried reserve returns the same hold (and renews its timeout)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.coupons import service
from hub.coupons.models import Coupon, CouponHold
from hub.coupons.service import CouponError, CouponNotFound
from hub.db import utcnow
from protocols import coupons as rules

log = logging.getLogger(__name__)


class HoldNotFound(CouponNotFound):
    pass


class NotYourHold(CouponError):
    """Another gateway's hold: only the lane that claimed a coupon settles it."""


@dataclass
class Caller:
    store: str
    gateway: str
    lane: str | None = None


def _canon(code: str) -> str:
    try:
        return rules.normalize(code)
    except rules.CodeError as err:
        raise CouponError(str(err)) from None


def reserve(
    s: Session,
    hold_id: str,
    code: str,
    *,
    caller: Caller,
    member_id: str | None,
    lines: list[rules.BasketLine],
    other_codes: list[str],
    ttl_s: int,
    now: datetime | None = None,
) -> CouponHold:
    """Claim `code` for the caller's lane for `ttl_s` seconds, or CouponError saying why not
    (used, void, expired, another member's, not for this basket, held by another lane)."""
    now = now or utcnow()
    canon = _canon(code)
    # the coupon's row lock first: every claim, redemption and timeout of it serialises here
    c = s.get(Coupon, canon, with_for_update=True, populate_existing=True)
    if c is None:
        raise CouponNotFound(f"no coupon {rules.pretty(canon)}")
    mine = s.get(CouponHold, hold_id, populate_existing=True)
    if mine is not None:
        if mine.code != canon or mine.gateway_id != caller.gateway:
            raise CouponError(f"hold id {hold_id} is taken by another claim")
        if mine.status in ("committed", "released"):
            return mine  # settled: the lane reads its status
    found = service.check(
        s, canon, member_id=member_id, lines=lines, store=caller.store, other_codes=other_codes
    )
    if not found["ok"]:
        raise CouponError(f"coupon {rules.pretty(canon)}: {found['reason']}")
    if c.hold_id not in (None, hold_id) and c.held_until is not None and c.held_until > now:
        raise CouponError(
            f"coupon {rules.pretty(canon)} is claimed by another lane until "
            f"{c.held_until.isoformat()}"
        )
    until = now + timedelta(seconds=ttl_s)
    taken = s.execute(  # the rule itself, in one statement (the lock above makes it certain)
        update(Coupon)
        .where(
            Coupon.code == canon,
            Coupon.status == "issued",
            or_(Coupon.hold_id.is_(None), Coupon.held_until <= now, Coupon.hold_id == hold_id),
        )
        .values(hold_id=hold_id, held_until=until)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise CouponError(f"coupon {rules.pretty(canon)} was claimed meanwhile")
    if c.hold_id not in (None, hold_id):  # a timed-out claim of another lane: it ends here
        s.execute(
            update(CouponHold)
            .where(CouponHold.id == c.hold_id, CouponHold.status == "held")
            .values(status="expired", settled_at=now)
            .execution_options(synchronize_session=False)
        )
    if mine is not None:  # a retry, or a renewal after the timeout: the same hold
        mine.status, mine.expires_at, mine.settled_at = "held", until, None
        mine.discount_fen = int(found["discount_fen"])
        s.flush()
        return mine
    hold = CouponHold(
        id=hold_id,
        code=canon,
        status="held",
        member_id=member_id,
        store_id=caller.store,
        gateway_id=caller.gateway,
        lane=caller.lane,
        discount_fen=int(found["discount_fen"]),
        created_at=now,
        expires_at=until,
    )
    try:  # the same id on another coupon, at the same moment: not serialised by our lock
        with s.begin_nested():
            s.add(hold)
    except IntegrityError:
        raise CouponError(f"hold id {hold_id} is taken by another claim") from None
    return hold


def _own(s: Session, hold_id: str, caller: Caller) -> CouponHold:
    hold = s.get(CouponHold, hold_id)
    if hold is None:
        raise HoldNotFound(f"no coupon hold {hold_id}")
    if hold.store_id != caller.store or hold.gateway_id != caller.gateway:
        raise NotYourHold(f"coupon hold {hold_id} belongs to another gateway")
    s.get(Coupon, hold.code, with_for_update=True, populate_existing=True)
    s.refresh(hold)
    return hold


def commit(
    s: Session, hold_id: str, sale_id: str, caller: Caller, now: datetime | None = None
) -> CouponHold:
    """The lane's sale is journaled: redeem the coupon for it under this hold. Ingest does the
    same when the sale arrives, so a lost commit call changes nothing."""
    now = now or utcnow()
    hold = _own(s, hold_id, caller)
    if hold.status == "committed":
        if hold.sale_id != sale_id:
            raise CouponError(f"coupon hold {hold_id} was used by sale {hold.sale_id}")
        return hold
    if hold.status == "released":
        raise CouponError(f"coupon hold {hold_id} was released")
    r = service.redeem(
        s,
        hold.code,
        sale_id=sale_id,
        store_id=caller.store,
        member_id=hold.member_id,
        at=now,
        hold_id=hold_id,
        now=now,
    )
    if not r.ok:
        raise CouponError(f"coupon {rules.pretty(hold.code)}: {r.reason}")
    settle(s, hold_id, sale_id, now)
    s.refresh(hold)
    return hold


def settle(s: Session, hold_id: str, sale_id: str, now: datetime) -> None:
    """The coupon was redeemed by `sale_id` under this hold (a hold that had timed out
    meanwhile is committed too: nobody else had claimed the coupon)."""
    s.execute(
        update(CouponHold)
        .where(CouponHold.id == hold_id, CouponHold.status.in_(["held", "expired"]))
        .values(status="committed", sale_id=sale_id, settled_at=now)
        .execution_options(synchronize_session=False)
    )


def release(s: Session, hold_id: str, caller: Caller, now: datetime | None = None) -> CouponHold:
    """The cashier took the coupon off the sale: free it now rather than at the timeout."""
    now = now or utcnow()
    hold = _own(s, hold_id, caller)
    if hold.status == "committed":
        raise CouponError(f"coupon hold {hold_id} is already used by sale {hold.sale_id}")
    if hold.status == "held":
        _free(s, [hold_id], "released", now)
        s.refresh(hold)
    return hold


def _free(s: Session, hold_ids: list[str], status: str, now: datetime) -> None:
    cond = [Coupon.hold_id.in_(hold_ids)]
    if status == "expired":  # a renewal that came first keeps its hold
        cond.append(Coupon.held_until <= now)
    s.execute(
        update(Coupon)
        .where(*cond)
        .values(hold_id=None, held_until=None)
        .execution_options(synchronize_session=False)
    )
    q = update(CouponHold).where(CouponHold.id.in_(hold_ids), CouponHold.status == "held")
    if status == "expired":
        q = q.where(CouponHold.expires_at <= now)
    s.execute(q.values(status=status, settled_at=now).execution_options(synchronize_session=False))


def expire(s: Session, now: datetime | None = None, limit: int = 1000) -> int:
    """Holds past their timeout, released (the coupon is already free for a new claim at
    that moment; this makes the books say so)."""
    now = now or utcnow()
    ids = list(
        s.scalars(
            select(CouponHold.id)
            .where(CouponHold.status == "held", CouponHold.expires_at <= now)
            .order_by(CouponHold.code)
            .limit(limit)
        )
    )
    if ids:
        _free(s, ids, "expired", now)
    return len(ids)


def describe(hold: CouponHold, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    left = (hold.expires_at - now).total_seconds() if hold.status == "held" else 0
    return {
        "reservation_id": hold.id,
        "code": hold.code,
        "display": rules.pretty(hold.code),
        "status": hold.status,
        "discount_fen": hold.discount_fen,
        "expires_at": hold.expires_at.isoformat(),
        "ttl_s": max(int(left), 0),  # the lane counts on its own clock from here
        "sale_id": hold.sale_id,
    }
