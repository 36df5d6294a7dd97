"""Coupon rules in one place: issuing (limits checked under the template's row lock),
checking a basket, redeeming (one conditional UPDATE — of any number of concurrent attempts on
a code exactly one changes the row), releasing on refund, voiding. The discount arithmetic
and stacking rules are protocols.coupons, the same the lanes use."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from hub.coupons.models import Coupon, CouponEvent, CouponTemplate
from hub.db import utcnow
from protocols import coupons as rules

log = logging.getLogger(__name__)


class CouponError(Exception):
    """The coupon's state does not allow it (used, void, held, sold out, not applicable)."""


class CouponNotFound(CouponError):
    """No such coupon, template or hold."""


class CouponRequestInvalid(CouponError):
    """The request lacks what it needs (e.g. a commit without its sale)."""


@dataclass
class Issued:
    coupon: Coupon
    issued_now: bool


@dataclass
class Redemption:
    code: str
    ok: bool
    reason: str = ""
    already: bool = False  # this very sale had redeemed it before (a redelivery)


def terms(c: Coupon, t: CouponTemplate) -> rules.Terms:
    return rules.Terms(
        code=c.code,
        kind=t.kind,  # type: ignore[arg-type]
        amount_fen=t.amount_fen,
        percent_off=t.percent_off,
        cap_fen=t.cap_fen,
        threshold_fen=t.threshold_fen,
        gift_sku=t.gift_sku,
        stores=t.stores,
        categories=t.categories,
        skus=t.skus,
        stackable=t.stackable,
        on_promoted_lines=t.on_promoted_lines,
    )


def _event(s: Session, code: str, kind: str, **kw: Any) -> None:
    row = {"sale_id": None, "store_id": None, "detail": None, **kw}
    row["at"] = row.get("at") or utcnow()
    s.execute(insert(CouponEvent.__table__).values(code=code, kind=kind, **row))


# --- issuing -------------------------------------------------------------------------------
def issue(
    s: Session,
    template_id: int,
    member_id: str | None,
    *,
    source: str = "manual",
    key: str | None = None,
    now: datetime | None = None,
) -> Issued:
    """One coupon from a template. With `key`, issuing again returns the first coupon."""
    now = now or utcnow()
    # the template's row lock first: issues from one template (and their limits) serialise
    t = s.get(CouponTemplate, template_id, with_for_update=True)
    if t is None:
        raise CouponNotFound(f"no coupon template {template_id}")
    if key is not None:
        found = s.scalars(select(Coupon).where(Coupon.issue_key == key)).first()
        if found is not None:
            return Issued(found, False)
    if not t.active:
        raise CouponError(f"template {template_id} is not active")
    if t.valid_until is not None and t.valid_until <= now:
        raise CouponError(f"template {template_id} has ended")
    if t.total_limit is not None and t.issued_count >= t.total_limit:
        raise CouponError(f"template {template_id} is sold out ({t.total_limit} issued)")
    if member_id is not None and t.per_member_limit is not None:
        have = s.execute(
            select(func.count())
            .select_from(Coupon)
            .where(Coupon.template_id == template_id, Coupon.member_id == member_id)
        ).scalar_one()
        if have >= t.per_member_limit:
            raise CouponError(
                f"member already holds {have} of template {template_id} "
                f"(limit {t.per_member_limit})"
            )
    valid_from = max(t.valid_from or now, now) if t.valid_days else (t.valid_from or now)
    if t.valid_days is not None:
        until = now + timedelta(days=t.valid_days)
        valid_until = min(until, t.valid_until) if t.valid_until else until
    else:
        assert t.valid_until is not None
        valid_until = t.valid_until
    c = Coupon(
        code=_fresh_code(s),
        template_id=template_id,
        member_id=member_id,
        status="issued",
        issued_at=now,
        valid_from=valid_from,
        valid_until=valid_until,
        issue_source=source,
        issue_key=key,
    )
    s.add(c)
    t.issued_count += 1
    _event(s, c.code, "issued", at=now, detail=f"{source} to {member_id or 'bearer'}")
    return Issued(c, True)


def _fresh_code(s: Session) -> str:
    while True:  # 75 random bits: a clash is astronomically rare, but never assumed away
        code = rules.new_code()
        if s.get(Coupon, code) is None:
            return code


def issue_bulk(
    s: Session, template_id: int, member_ids: list[str], key: str, source: str = "bulk"
) -> dict[str, Any]:
    """Issue to a list; each (key, member) once, so a rerun of the same list adds nothing.
    Members the limits refuse are reported, not fatal."""
    issued, again, refused = [], 0, []
    for m in member_ids:
        try:
            with s.begin_nested():
                r = issue(s, template_id, m, source=source, key=f"{key}:{m}")
        except CouponError as err:
            refused.append({"member_id": m, "reason": str(err)})
            continue
        if r.issued_now:
            issued.append({"member_id": m, "code": r.coupon.code})
        else:
            again += 1
    return {"issued": issued, "already_issued": again, "refused": refused}


def fire(
    s: Session, trigger: str, member_id: str, key: str, now: datetime | None = None
) -> list[Coupon]:
    """Issue every active template listening to `trigger` (e.g. 'tier:gold',
    'member.registered') to the member, once per (key, template)."""
    out = []
    for tid in s.scalars(
        select(CouponTemplate.id).where(
            CouponTemplate.trigger == trigger, CouponTemplate.active.is_(True)
        )
    ).all():
        try:
            with s.begin_nested():
                r = issue(s, tid, member_id, source="trigger", key=f"{key}:{tid}", now=now)
            out.append(r.coupon)
        except CouponError as err:
            log.info("trigger %s: template %s not issued to %s: %s", trigger, tid, member_id, err)
    return out


# --- checking and redeeming ----------------------------------------------------------------
def load(s: Session, code: str) -> tuple[Coupon, CouponTemplate]:
    try:
        canon = rules.normalize(code)
    except rules.CodeError as err:
        raise CouponError(str(err)) from None
    c = s.get(Coupon, canon)
    if c is None:
        raise CouponNotFound(f"no coupon {rules.pretty(canon)}")
    t = s.get(CouponTemplate, c.template_id)
    assert t is not None
    return c, t


def why_not(c: Coupon, member_id: str | None, at: datetime) -> str | None:
    if c.status == "redeemed":
        return f"already used (sale {c.redeemed_sale_id})"
    if c.status == "void":
        return "voided"
    if at < c.valid_from:
        return f"not valid before {c.valid_from.isoformat()}"
    if at >= c.valid_until:
        return f"expired {c.valid_until.isoformat()}"
    if c.member_id is not None and c.member_id != member_id:
        return "belongs to another member"
    return None


def check(
    s: Session,
    code: str,
    *,
    member_id: str | None,
    lines: list[rules.BasketLine],
    store: str | None,
    other_codes: list[str] = (),  # type: ignore[assignment]
    at: datetime | None = None,
) -> dict[str, Any]:
    """Would this coupon apply to this basket now, and for how much? (Changes nothing.)"""
    at = at or utcnow()
    c, t = load(s, code)
    reason = why_not(c, member_id, at)
    out: dict[str, Any] = {
        "code": c.code,
        "template_id": t.id,
        "name": t.name,
        "kind": t.kind,
        "valid_until": c.valid_until,
    }
    if reason:
        return {**out, "ok": False, "reason": reason, "discount_fen": 0}
    others = []
    for other in other_codes:
        try:
            oc, ot = load(s, other)
        except CouponError:
            continue
        others.append(terms(oc, ot))
    if not lines:
        return {**out, "ok": True, "reason": "", "discount_fen": 0}
    result = rules.stack(lines, [*others, terms(c, t)], store)
    mine = [a for a in result.applied if a.code == c.code]
    if not mine:
        refused = next((r.reason for r in result.refused if r.code == c.code), "does not apply")
        return {**out, "ok": False, "reason": refused, "discount_fen": 0}
    return {**out, "ok": True, "reason": "", "discount_fen": mine[0].discount_fen}


_c = Coupon.__table__.c
# the whole redemption rule in one statement (built once: ingest runs it per coupon)
_REDEEM = (
    update(Coupon.__table__)
    .where(
        _c.code == bindparam("p_code"),
        _c.status == "issued",
        _c.valid_from <= bindparam("p_at"),
        _c.valid_until > bindparam("p_at"),
        or_(_c.member_id.is_(None), _c.member_id == bindparam("p_member")),
        # nobody else's live claim: unheld, the hold timed out, or the hold is this sale's
        or_(
            _c.hold_id.is_(None),
            _c.held_until <= bindparam("p_now"),
            _c.hold_id == bindparam("p_hold"),
        ),
    )
    .values(
        status="redeemed",
        redeemed_at=bindparam("p_at"),
        redeemed_sale_id=bindparam("p_sale"),
        redeemed_store_id=bindparam("p_store"),
        hold_id=None,
        held_until=None,
    )
)


def redeem(
    s: Session,
    code: str,
    *,
    sale_id: str,
    store_id: str | None,
    member_id: str | None,
    at: datetime | None = None,
    events: list[dict[str, Any]] | None = None,
    hold_id: str | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Mark the coupon used by `sale_id` — atomically: the UPDATE's WHERE is the whole rule,
    so two attempts can never both see it unused. Validity is judged at `at` (the sale's
    time); another lane's claim at `now` (booking time): only the sale whose hold it is
    (`hold_id`), or any sale once no live hold stands, may take it. With `events`, the
    coupon event row is appended there for the caller to write in bulk."""
    at = at or utcnow()
    now = now or utcnow()
    try:
        canon = rules.normalize(code)
    except rules.CodeError as err:
        return Redemption(code, False, str(err))
    params = {
        "p_code": canon,
        "p_at": at,
        "p_member": member_id,
        "p_sale": sale_id,
        "p_store": store_id,
        "p_now": now,
        "p_hold": hold_id,
    }
    res = s.execute(_REDEEM, params)
    if res.rowcount == 1:
        row = {
            "code": canon,
            "kind": "redeemed",
            "at": at,
            "sale_id": sale_id,
            "store_id": store_id,
            "detail": None,
        }
        if events is None:
            s.execute(insert(CouponEvent.__table__), [row])
        else:
            events.append(row)
        return Redemption(canon, True)
    c = s.get(Coupon, canon, populate_existing=True)
    if c is None:
        return Redemption(canon, False, "no such coupon")
    if c.status == "redeemed" and c.redeemed_sale_id == sale_id:
        return Redemption(canon, True, already=True)
    reason = why_not(c, member_id, at)
    if reason is None and c.hold_id is not None and c.held_until is not None:
        reason = f"claimed by another lane (hold {c.hold_id}) until {c.held_until.isoformat()}"
    return Redemption(canon, False, reason or "not redeemable")


def release_for_sale(s: Session, sale_id: str, at: datetime | None = None) -> list[str]:
    """A refunded sale gives its coupons back (usable again until their own end date)."""
    at = at or utcnow()
    codes = s.scalars(
        select(Coupon.code).where(Coupon.redeemed_sale_id == sale_id, Coupon.status == "redeemed")
    ).all()
    if codes:
        s.execute(
            update(Coupon)
            .where(Coupon.code.in_(codes), Coupon.status == "redeemed")
            .values(
                status="issued", redeemed_at=None, redeemed_sale_id=None, redeemed_store_id=None
            )
            .execution_options(synchronize_session=False)
        )
        for code in codes:
            _event(s, code, "released", at=at, sale_id=sale_id, detail="sale refunded")
    return list(codes)


def void(s: Session, code: str, reason: str) -> Coupon:
    c, _ = load(s, code)
    res = s.execute(
        update(Coupon)
        .where(
            Coupon.code == c.code,
            Coupon.status == "issued",
            or_(Coupon.hold_id.is_(None), Coupon.held_until <= utcnow()),
        )
        .values(status="void", hold_id=None, held_until=None)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        s.refresh(c)
        if c.status == "issued":
            raise CouponError(f"coupon {c.code} is held by a lane until {c.held_until}")
        raise CouponError(f"coupon {c.code} is {c.status}; only an unused coupon can be voided")
    _event(s, c.code, "voided", detail=reason[:500])
    s.refresh(c)
    return c


def move_to(s: Session, from_member: str, to_member: str) -> list[str]:
    """A merge: the absorbed member's coupons now belong to the survivor."""
    codes = s.scalars(select(Coupon.code).where(Coupon.member_id == from_member)).all()
    if codes:
        s.execute(
            update(Coupon)
            .where(Coupon.member_id == from_member)
            .values(member_id=to_member)
            .execution_options(synchronize_session=False)
        )
        for code in codes:
            _event(s, code, "moved", detail=f"member {from_member} merged into {to_member}")
    return list(codes)


def describe(c: Coupon, t: CouponTemplate | None = None) -> dict[str, Any]:
    return {
        "code": c.code,
        "display": rules.pretty(c.code),
        "template_id": c.template_id,
        "name": t.name if t else None,
        "kind": t.kind if t else None,
        "member_id": c.member_id,
        "status": c.status,
        "issued_at": c.issued_at,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "issue_source": c.issue_source,
        "redeemed_at": c.redeemed_at,
        "redeemed_sale_id": c.redeemed_sale_id,
        "redeemed_store_id": c.redeemed_store_id,
        "hold_id": c.hold_id,  # a lane's claim; void after held_until
        "held_until": c.held_until,
    }
