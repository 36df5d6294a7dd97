"""Tiers: upgrade on rolling 12-month spend or points, on every sale; downgrade modes in the
daily job; an event for every change; birthday gifts once a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from hub.coupons.models import Coupon, CouponTemplate
from hub.db import Database
from hub.loyalty.models import EarningRule
from hub.members.service import Members
from hub.tiers import service as tiers
from hub.tiers.models import MemberTier, Tier, TierChange
from tests.hub.till import Till, line, register

DAY = timedelta(days=1)


def ladder(db: Database, mode: str = "automatic", grace_days: int = 0) -> None:
    with db.transaction() as s:
        s.add(
            CouponTemplate(
                id=50,
                name="金卡礼",
                kind="amount_off",
                amount_fen=500,
                valid_days=30,
                trigger="tier:gold",
            )
        )
        s.add(
            CouponTemplate(
                id=51,
                name="钻石生日礼",
                kind="gift",
                gift_sku="CAKE",
                valid_days=30,
                per_member_limit=5,
            )
        )
        s.add_all(
            [
                Tier(code="normal", name="普通", rank=0),
                Tier(
                    code="silver",
                    name="银卡",
                    rank=1,
                    discount_pct=95,
                    spend_threshold_fen=100000,
                    downgrade_mode=mode,
                    grace_days=grace_days,
                ),
                Tier(
                    code="gold",
                    name="金卡",
                    rank=2,
                    discount_pct=90,
                    spend_threshold_fen=500000,
                    points_threshold=3000,
                    points_multiplier_pct=120,
                    downgrade_mode=mode,
                    grace_days=grace_days,
                ),
                Tier(
                    code="diamond",
                    name="钻石",
                    rank=3,
                    discount_pct=85,
                    spend_threshold_fen=2000000,
                    points_multiplier_pct=150,
                    birthday_gift_template_id=51,
                    downgrade_mode=mode,
                    grace_days=grace_days,
                ),
            ]
        )


def tier_of(db: Database, m: str) -> str:
    with db.transaction() as s:
        return tiers.current(s, [m])[m].code


def changes(db: Database, m: str) -> list[tuple[str | None, str, str]]:
    with db.transaction() as s:
        rows = s.scalars(
            select(TierChange).where(TierChange.member_id == m).order_by(TierChange.id)
        )
        return [(c.from_code, c.to_code, c.reason) for c in rows]


def test_new_members_start_on_the_lowest_tier(db: Database, members: Members):
    ladder(db)
    m = register(db, members, "13100131000")
    assert tier_of(db, m) == "normal"
    assert changes(db, m) == [(None, "normal", "registered")]


def test_a_sale_upgrades_at_once_and_fires_the_tier_trigger(
    db: Database, members: Members, till: Till
):
    ladder(db)
    m = register(db, members, "13100131001")
    till.send(till.sale([line("A", 120000)], member=m))
    assert tier_of(db, m) == "silver"
    till.send(till.sale([line("A", 450000)], member=m))
    assert tier_of(db, m) == "gold"
    assert changes(db, m)[1:] == [("normal", "silver", "sale"), ("silver", "gold", "sale")]
    with db.transaction() as s:
        gifts = s.scalars(select(Coupon).where(Coupon.member_id == m, Coupon.template_id == 50))
        assert len(list(gifts)) == 1


def test_points_in_the_window_also_qualify(db: Database, members: Members, till: Till):
    ladder(db)
    m = register(db, members, "13100131002")
    with db.transaction() as s:  # a generous category: 10 points per yuan
        s.add(EarningRule(name="beauty ×10", category="beauty", rate_milli=10000))
    till.send(till.sale([line("L", 40000, "beauty")], member=m))  # 400 yuan → 4000 points
    assert tier_of(db, m) == "gold"  # spend says silver, points say gold


def test_spend_older_than_the_window_no_longer_counts(db: Database, members: Members):
    ladder(db)
    m = register(db, members, "13100131003")
    now = datetime.now(UTC)
    t = Till(db)
    t.send(t.sale([line("A", 600000)], member=m, at=now - 400 * DAY, day=(now - 400 * DAY).date()))
    with db.transaction() as s:
        assert tiers.window(s, [m], tiers.today(s))[m] == (0, 0)
        assert tiers.evaluate(s, [m], "daily") == []
    assert tier_of(db, m) == "normal"


def test_automatic_downgrade_by_the_daily_job(db: Database, members: Members):
    ladder(db, "automatic")
    m = register(db, members, "13100131004")
    t = Till(db)
    t.send(t.sale([line("A", 600000)], member=m))
    assert tier_of(db, m) == "gold"
    with db.transaction() as s:  # a year and a bit later, nothing bought since
        assert tiers.evaluate_all(s, datetime.now(UTC) + 370 * DAY) == 1
    assert tier_of(db, m) == "normal"
    assert changes(db, m)[-1] == ("gold", "normal", "daily")


def test_never_downgrade_keeps_the_tier(db: Database, members: Members):
    ladder(db, "never")
    m = register(db, members, "13100131005")
    t = Till(db)
    t.send(t.sale([line("A", 600000)], member=m))
    with db.transaction() as s:
        assert tiers.evaluate_all(s, datetime.now(UTC) + 400 * DAY) == 0
    assert tier_of(db, m) == "gold"


def test_grace_period_then_downgrade_unless_requalified(db: Database, members: Members):
    ladder(db, "grace", grace_days=30)
    a = register(db, members, "13100131006")
    b = register(db, members, "13100131007")
    t = Till(db)
    for m in (a, b):
        t.send(t.sale([line("A", 600000)], member=m))
    later = datetime.now(UTC) + 370 * DAY
    with db.transaction() as s:
        assert tiers.evaluate_all(s, later) == 0  # grace starts, no change yet
        grace = s.get(MemberTier, a)
        assert grace is not None and grace.grace_until is not None
    assert tier_of(db, a) == "gold"
    # b buys again within the grace period (recorded on that day): requalifies
    with db.transaction() as s:
        tiers.record_spend(s, [(b, tiers.today(s, later), 600000, 0)])
        tiers.evaluate(s, [b], "sale", later)
        mt = s.get(MemberTier, b)
        assert mt is not None and mt.grace_until is None
    with db.transaction() as s:
        assert tiers.evaluate_all(s, later + 31 * DAY) == 1
    assert tier_of(db, a) == "normal" and tier_of(db, b) == "gold"


def test_a_refund_can_take_the_tier_back(db: Database, members: Members, till: Till):
    ladder(db, "automatic")
    m = register(db, members, "13100131008")
    sale = till.sale([line("A", 120000)], member=m)
    till.send(sale)
    assert tier_of(db, m) == "silver"
    till.send(till.refund(sale, 30000))
    assert tier_of(db, m) == "normal"
    assert changes(db, m)[-1] == ("silver", "normal", "refund")


def test_birthday_gift_once_a_year_for_the_tier_that_has_one(db: Database, members: Members):
    ladder(db)
    today = datetime.now(UTC)
    with db.transaction() as s:
        local = tiers.today(s, today)
    born = date(1988, local.month, local.day) if (local.month, local.day) != (2, 29) else None
    d = register(db, members, "13100131009", birthday=born)
    n = register(db, members, "13100131010", birthday=born)
    with db.transaction() as s:
        tiers.set_tier(s, d, "diamond")
    for _ in range(2):
        with db.transaction() as s:
            tiers.birthday_gifts(s, members.open_birthday, today)
    with db.transaction() as s:
        got = {c.member_id for c in s.scalars(select(Coupon).where(Coupon.template_id == 51))}
    assert got == ({d} if born else set())
    assert n not in got
