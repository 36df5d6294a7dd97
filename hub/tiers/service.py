"""Tier rules in one place.

A member qualifies for the highest tier whose spend threshold (rolling 365 days of business
days, refunds taken off) or points threshold (points earned in the same window) they reach.
Upgrades happen at once. Below their tier, the tier's downgrade mode decides: `never` keeps
it, `automatic` moves down at the next evaluation, `grace` starts a grace period of
`grace_days` and moves down only if they still do not qualify when it ends (requalifying
clears it). Evaluation runs on every sale and refund (for the members in the batch) and in a
daily job (for everyone). Each change is a `tier_changes` row — the tier event stream — and
fires the coupon triggers `tier:<code>` (e.g. a welcome gift for 金卡)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.coupons import service as coupons
from hub.db import utcnow
from hub.loyalty.service import settings
from hub.members.models import Member
from hub.tiers.models import MemberTier, Tier, TierChange, TierSpendDay

log = logging.getLogger(__name__)
WINDOW_DAYS = 365


class TierError(ValueError):
    pass


def ladder(s: Session) -> list[Tier]:
    return list(s.scalars(select(Tier).order_by(Tier.rank)))


def today(s: Session, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(settings(s).timezone)).date()


def qualify(tiers: list[Tier], spend_fen: int, points: int) -> Tier:
    best = tiers[0]
    for t in tiers:
        by_points = t.points_threshold is not None and points >= t.points_threshold
        if spend_fen >= t.spend_threshold_fen or by_points:
            best = t if t.rank > best.rank else best
    return best


def assign_initial(s: Session, member_id: str, now: datetime | None = None) -> MemberTier | None:
    """A new member starts on the lowest tier (if any tiers are configured)."""
    tiers = ladder(s)
    if not tiers:
        return None
    now = now or utcnow()
    mt = MemberTier(member_id=member_id, tier_code=tiers[0].code, since=now, evaluated_at=now)
    s.add(mt)
    s.add(
        TierChange(
            member_id=member_id,
            from_code=None,
            to_code=tiers[0].code,
            reason="registered",
            spend_fen=0,
            points=0,
            at=now,
        )
    )
    return mt


def current(s: Session, member_ids: Iterable[str]) -> dict[str, Tier]:
    ids = list(set(member_ids))
    if not ids:
        return {}
    rows = s.execute(
        select(MemberTier.member_id, Tier)
        .join(Tier, Tier.code == MemberTier.tier_code)
        .where(MemberTier.member_id.in_(ids))
    ).all()
    return {m: t for m, t in rows}


def record_spend(s: Session, rows: list[tuple[str, date, int, int]]) -> None:
    """Add (member, business day, spend fen, points) to the members' daily sums."""
    merged: dict[tuple[str, date], list[int]] = {}
    for m, d, fen, pts in rows:
        acc = merged.setdefault((m, d), [0, 0])
        acc[0] += fen
        acc[1] += pts
    if not merged:
        return
    ins = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
    t = TierSpendDay.__table__
    stmt = ins(t)
    stmt = stmt.on_conflict_do_update(
        index_elements=["member_id", "day"],
        set_={
            "spend_fen": t.c.spend_fen + stmt.excluded.spend_fen,
            "points": t.c.points + stmt.excluded.points,
        },
    )
    s.execute(
        stmt,
        [
            {"member_id": m, "day": d, "spend_fen": v[0], "points": v[1]}
            for (m, d), v in sorted(merged.items())
        ],
    )


def window(s: Session, member_ids: Iterable[str], on: date) -> dict[str, tuple[int, int]]:
    ids = list(set(member_ids))
    out = {m: (0, 0) for m in ids}
    start = on - timedelta(days=WINDOW_DAYS - 1)
    for i in range(0, len(ids), 500):
        for m, fen, pts in s.execute(
            select(
                TierSpendDay.member_id,
                func.sum(TierSpendDay.spend_fen),
                func.sum(TierSpendDay.points),
            )
            .where(
                TierSpendDay.member_id.in_(ids[i : i + 500]),
                TierSpendDay.day >= start,
                TierSpendDay.day <= on,
            )
            .group_by(TierSpendDay.member_id)
        ):
            out[m] = (max(int(fen), 0), max(int(pts), 0))
    return out


def evaluate(
    s: Session, member_ids: Iterable[str], reason: str, now: datetime | None = None
) -> list[TierChange]:
    """Re-rate these members (active ones) against the ladder; returns the changes made."""
    now = now or utcnow()
    tiers = ladder(s)
    ids = sorted(set(member_ids))
    if not tiers or not ids:
        return []
    by_code = {t.code: t for t in tiers}
    on = today(s, now)
    win = window(s, ids, on)
    mt_t = MemberTier.__table__
    rows = {
        r[0]: (r[1], r[2])
        for r in s.execute(
            select(mt_t.c.member_id, mt_t.c.tier_code, mt_t.c.grace_until)
            .where(mt_t.c.member_id.in_(ids))
            .order_by(mt_t.c.member_id)  # locked in id order, like the accounts
            .with_for_update()
        )
    }
    changes: list[TierChange] = []
    for m in ids:
        spend, pts = win[m]
        target = qualify(tiers, spend, pts)
        if m not in rows:
            mt = MemberTier(member_id=m, tier_code=tiers[0].code, since=now, evaluated_at=now)
            s.add(mt)
            changes.append(_change(s, mt, None, tiers[0], "initial", spend, pts, now))
            rows[m] = (mt.tier_code, None)
        code, grace_until = rows[m]
        cur = by_code[code]
        if target.rank == cur.rank and grace_until is None:
            continue  # the common case: nothing to write
        if target.rank < cur.rank and cur.downgrade_mode == "never":
            continue
        mt = s.get(MemberTier, m)
        assert mt is not None
        mt.evaluated_at = now
        if target.rank > cur.rank:
            changes.append(_change(s, mt, cur, target, reason, spend, pts, now))
        elif target.rank == cur.rank:
            mt.grace_until = None
        elif cur.downgrade_mode == "automatic":
            changes.append(_change(s, mt, cur, target, reason, spend, pts, now))
        elif cur.downgrade_mode == "grace":
            if mt.grace_until is None:
                mt.grace_until = now + timedelta(days=cur.grace_days)
            elif now >= mt.grace_until:
                changes.append(_change(s, mt, cur, target, reason, spend, pts, now))
    return changes


def _change(
    s: Session,
    mt: MemberTier,
    old: Tier | None,
    new: Tier,
    reason: str,
    spend: int,
    pts: int,
    now: datetime,
) -> TierChange:
    mt.tier_code = new.code
    mt.since = now
    mt.grace_until = None
    ch = TierChange(
        member_id=mt.member_id,
        from_code=old.code if old else None,
        to_code=new.code,
        reason=reason,
        spend_fen=spend,
        points=pts,
        at=now,
    )
    s.add(ch)
    s.flush()
    log.info("member %s: tier %s → %s (%s)", mt.member_id, ch.from_code, new.code, reason)
    if old is None or new.rank > old.rank:
        coupons.fire(s, f"tier:{new.code}", mt.member_id, key=f"tier-change:{ch.id}", now=now)
    return ch


def set_tier(s: Session, member_id: str, code: str, reason: str = "manual") -> TierChange | None:
    """HQ puts a member on a tier by hand (the next evaluation still applies the rules)."""
    tiers = {t.code: t for t in ladder(s)}
    if code not in tiers:
        raise TierError(f"no tier {code!r}")
    mt = s.get(MemberTier, member_id, with_for_update=True)
    now = utcnow()
    if mt is None:
        mt = MemberTier(member_id=member_id, tier_code=code, since=now, evaluated_at=now)
        s.add(mt)
        return _change(s, mt, None, tiers[code], reason, 0, 0, now)
    if mt.tier_code == code:
        return None
    spend, pts = window(s, [member_id], today(s, now))[member_id]
    return _change(s, mt, tiers[mt.tier_code], tiers[code], reason, spend, pts, now)


def merge(s: Session, survivor: str, absorbed: str) -> None:
    """Fold the absorbed member's daily sums into the survivor's and keep the higher tier."""
    rows = s.execute(
        select(TierSpendDay.day, TierSpendDay.spend_fen, TierSpendDay.points).where(
            TierSpendDay.member_id == absorbed
        )
    ).all()
    record_spend(s, [(survivor, d, fen, pts) for d, fen, pts in rows])
    s.execute(delete(TierSpendDay).where(TierSpendDay.member_id == absorbed))
    cur = current(s, [survivor, absorbed])
    if absorbed in cur and (survivor not in cur or cur[absorbed].rank > cur[survivor].rank):
        set_tier(s, survivor, cur[absorbed].code, reason="merge")
    evaluate(s, [survivor], "merge")


def evaluate_all(s: Session, now: datetime | None = None, batch: int = 1000) -> int:
    """The daily job: every active member, in batches; returns the number of changes."""
    changed = 0
    after = ""
    while True:
        ids = s.scalars(
            select(Member.id)
            .where(Member.status == "active", Member.id > after)
            .order_by(Member.id)
            .limit(batch)
        ).all()
        if not ids:
            return changed
        changed += len(evaluate(s, ids, "daily", now))
        after = ids[-1]


def birthday_gifts(
    s: Session, open_birthday: Callable[[str, bytes], date], now: datetime | None = None
) -> int:
    """Issue each tier's birthday gift to the members whose birthday is today (29 Feb
    birthdays on 28 Feb in other years); once a year per member, whatever the reruns. The
    birthday is sealed: the month (kept in clear) picks this month's members in SQL, and
    `open_birthday(member_id, sealed)` (hub/members) opens each of theirs for the day."""
    now = now or utcnow()
    day = today(s, now)
    days = [day.day]
    if day.month == 2 and day.day == 28 and not _leap(day.year):
        days.append(29)
    candidates = s.execute(
        select(Member.id, Member.birthday_sealed, Tier.birthday_gift_template_id)
        .join(MemberTier, MemberTier.member_id == Member.id)
        .join(Tier, Tier.code == MemberTier.tier_code)
        .where(
            Member.status == "active",
            Tier.birthday_gift_template_id.is_not(None),
            Member.birth_month == day.month,
            Member.birthday_sealed.is_not(None),
        )
    ).all()
    rows = [
        (member_id, template_id)
        for member_id, sealed, template_id in candidates
        if open_birthday(member_id, sealed).day in days
    ]
    issued = 0
    for member_id, template_id in rows:
        key = f"birthday:{day.year}:{member_id}"
        try:
            c = coupons.issue(s, template_id, member_id, source="trigger", key=key, now=now)
        except coupons.CouponError as err:
            log.warning("birthday gift for %s not issued: %s", member_id, err)
            continue
        issued += c.issued_now
    return issued


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
