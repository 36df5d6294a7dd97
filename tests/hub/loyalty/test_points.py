"""The points ledger: earning rules, FIFO spending with allocation rows, expiry, liability,
idempotency, the books always balancing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.loyalty import books
from hub.loyalty.models import EarningRule, LedgerEntry, PointsAllocation, PointsLot
from hub.loyalty.service import InsufficientPoints, Ledger
from hub.members.service import Members
from hub.tiers.models import Tier
from tests.hub.till import Till, line, register


def balance(db: Database, member: str) -> tuple[int, int, int]:
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([member])
        a = led.account(member)
        return a.balance, a.held, a.debt


def books_balance(db: Database) -> None:
    with db.transaction() as s:
        assert books.check_books(s) == []


def grant(db: Database, member: str, pts: int, key: str, expires_at: datetime | None = None):
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([member])
        led.credit(
            member, "adjust_in", pts, source_type="manual", source_id=key, expires_at=expires_at
        )


def test_a_sale_earns_one_point_per_yuan_paid(db: Database, members: Members, till: Till):
    m = register(db, members, "13800138000")
    till.send(till.sale([line("A", 12345), line("B", 655)], member=m))
    assert balance(db, m) == (130, 0, 0)
    books_balance(db)


def test_category_and_store_rules_the_most_specific_wins(db: Database, members: Members):
    m = register(db, members, "13800138001")
    with db.transaction() as s:
        s.add_all(
            [
                EarningRule(name="tobacco earns nothing", category="tobacco", rate_milli=0),
                EarningRule(name="s1 double", store_id="s1", rate_milli=2000),
                EarningRule(
                    name="s1 fresh triple", store_id="s1", category="fresh", rate_milli=3000
                ),
            ]
        )
    t1, t2 = Till(db, "s1"), Till(db, "s2")
    t1.send(
        t1.sale([line("T", 5000, "tobacco"), line("F", 1000, "fresh"), line("X", 1000)], member=m)
    )
    # tobacco 0 + fresh 10×3 + other 10×2
    assert balance(db, m)[0] == 50
    t2.send(t2.sale([line("T", 5000, "tobacco"), line("F", 1000, "fresh")], member=m))
    assert balance(db, m)[0] == 60  # s2: tobacco 0, fresh at the base rate


def test_points_and_coupon_tenders_do_not_earn(db: Database, members: Members, till: Till):
    m = register(db, members, "13800138002")
    grant(db, m, 5000, "g1")
    with db.transaction() as s:
        Ledger(s).reserve("r-0000001", m, 3000)
    till.send(till.sale([line("A", 10000)], member=m, points_fen=3000, reservation="r-0000001"))
    # 100 yuan, 30 of them paid with points: 70 points earned, 3000 spent
    assert balance(db, m) == (5000 - 3000 + 70, 0, 0)
    books_balance(db)


def test_tier_and_birthday_multipliers(db: Database, members: Members, till: Till):
    with db.transaction() as s:
        s.add(Tier(code="gold", name="金卡", rank=0, discount_pct=90, points_multiplier_pct=150))
    today = datetime.now(UTC).date()
    bday = date(1990, today.month, min(today.day, 28))
    m = register(db, members, "13800138003", birthday=bday)
    till.send(till.sale([line("A", 10000)], member=m))
    assert balance(db, m)[0] == 100 * 150 // 100 * 2  # gold 1.5× and birthday month 2×


def test_spending_takes_the_soonest_expiring_points_first(db: Database, members: Members):
    m = register(db, members, "13800138004")
    now = datetime.now(UTC)
    grant(db, m, 100, "late", now + timedelta(days=300))
    grant(db, m, 100, "soon", now + timedelta(days=10))
    grant(db, m, 100, "middle", now + timedelta(days=100))
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        posted = led.debit(m, "spend", 150, source_type="manual", source_id="buy")
        assert posted is not None
        debit_id = posted.entry.id
    with db.transaction() as s:
        rows = s.execute(
            select(PointsLot.expires_at, PointsAllocation.points)
            .join(PointsLot, PointsLot.id == PointsAllocation.lot_id)
            .where(PointsAllocation.debit_id == debit_id)
            .order_by(PointsLot.expires_at)
        ).all()
    assert [p for _, p in rows] == [100, 50]  # all of "soon", half of "middle"
    assert rows[0][0] < rows[1][0]
    assert balance(db, m)[0] == 150
    books_balance(db)


def test_a_spend_larger_than_the_balance_is_refused_and_changes_nothing(
    db: Database, members: Members
):
    m = register(db, members, "13800138005")
    grant(db, m, 100, "g")
    with pytest.raises(InsufficientPoints), db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        led.debit(m, "spend", 101, source_type="manual", source_id="too-much")
    assert balance(db, m) == (100, 0, 0)
    books_balance(db)


def test_each_source_member_kind_posts_once(db: Database, members: Members):
    m = register(db, members, "13800138006")
    for _ in range(3):
        grant(db, m, 100, "same-key")
    assert balance(db, m)[0] == 100
    with db.transaction() as s:
        n = s.scalars(select(LedgerEntry).where(LedgerEntry.source_id == "same-key")).all()
    assert len(n) == 1


def test_expiry_job_expires_whole_lots_past_their_date(db: Database, members: Members):
    m = register(db, members, "13800138007")
    now = datetime.now(UTC)
    grant(db, m, 40, "old", now - timedelta(days=1))
    grant(db, m, 60, "fresh", now + timedelta(days=30))
    with db.transaction() as s:
        assert books.expire_points(s, now) == 40
    with db.transaction() as s:
        assert books.expire_points(s, now) == 0  # a rerun expires nothing more
    assert balance(db, m)[0] == 60
    with db.transaction() as s:
        kinds = [e.kind for e in s.scalars(select(LedgerEntry).where(LedgerEntry.member_id == m))]
    assert kinds.count("expire") == 1
    books_balance(db)


def test_expiry_waits_while_a_lane_holds_the_points(db: Database, members: Members):
    m = register(db, members, "13800138008")
    now = datetime.now(UTC)
    grant(db, m, 100, "old", now - timedelta(days=1))
    with db.transaction() as s:
        Ledger(s).reserve("r-hold-001", m, 100)
    with db.transaction() as s:
        assert books.expire_points(s, now) == 0
    with db.transaction() as s:
        Ledger(s).commit("r-hold-001")
    assert balance(db, m) == (0, 0, 0)
    books_balance(db)


def test_liability_report_counts_outstanding_points_and_their_value(db: Database, members: Members):
    a = register(db, members, "13800138009")
    b = register(db, members, "13800138010")
    now = datetime.now(UTC)
    grant(db, a, 300, "a1", now + timedelta(days=10))
    grant(db, b, 700, "b1", now + timedelta(days=200))
    with db.transaction() as s:
        Ledger(s).reserve("r-liab-01", b, 200)
        rep = books.liability(s, now)
    assert rep["outstanding_points"] == 1000
    assert rep["outstanding_value_fen"] == 1000  # 1 point = 1 fen by default
    assert rep["held_points"] == 200
    assert rep["members_with_points"] == 2
    assert rep["expiring_30d_points"] == 300
    assert sum(x["points"] for x in rep["by_expiry_month"]) == 1000
    assert rep["totals_by_kind"]["adjust_in"] == 1000
