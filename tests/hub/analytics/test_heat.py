"""Heat by hand: one member's four weeks of visits, interactions, reviews and coupons; a
member whose heat falls two weeks in a row is warned, and the warning goes to his home store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from hub.analytics import heat, interactions
from hub.analytics.models import ChurnWarning, MemberHeat
from hub.coupons.models import Coupon, CouponTemplate
from hub.db import Database
from hub.members.service import Members, Registration

WEEK = date(2026, 6, 15)  # a Monday


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, tzinfo=UTC)  # 12:00 in Shanghai


def _member(db: Database, members: Members, phone: str, store: str = "s1") -> str:
    with db.transaction() as s:
        return members.register(s, Registration(phone=phone, origin_store=store)).member.id


def test_heat_formula_by_hand(db: Database, members: Members, till) -> None:
    a = _member(db, members, "13800000001")
    days = [WEEK - timedelta(days=20), WEEK - timedelta(days=3), WEEK + timedelta(days=6)]
    for d in days:
        till.send(till.sale(member=a, at=_noon(d), day=d))
    till.send(till.sale(member=a, at=_noon(days[0]), day=days[0]))  # the same day: one visit
    old = WEEK - timedelta(days=22)  # before the four weeks: not counted
    till.send(till.sale(member=a, at=_noon(old), day=old))
    with db.transaction() as s:
        for i in range(5):
            interactions.record(s, a, "online", _noon(WEEK + timedelta(days=i)), "mini", f"o{i}")
        interactions.record(s, a, "online", _noon(WEEK), "mini", "o0")  # resent: once
        interactions.record(s, a, "online", _noon(WEEK + timedelta(days=7)), "mini", None)
        for i in range(2):
            interactions.record(s, a, "review", _noon(WEEK - timedelta(days=i)), "app", None)
        t = CouponTemplate(name="5 off", kind="amount_off", amount_fen=500, valid_days=30)
        s.add(t)
        s.flush()
        at = _noon(WEEK + timedelta(days=1))
        s.add(
            Coupon(
                code="HEAT1",
                template_id=t.id,
                member_id=a,
                status="redeemed",
                valid_from=at,
                valid_until=at + timedelta(days=30),
                issue_source="manual",
                redeemed_at=at,
                redeemed_sale_id="x",
            )
        )
    with db.transaction() as s:
        out = heat.compute_week(s, WEEK + timedelta(days=2))  # any day names its week
    with db.transaction() as s:
        row = s.get(MemberHeat, (a, WEEK))
    assert row is not None
    assert (row.visits, row.online, row.reviews, row.coupons) == (3, 5, 2, 1)
    # 5·3 + ⌊5·5/2⌋ + 5·2 + 5·1 = 15 + 12 + 10 + 5
    assert row.heat == 42 == heat.heat_of(3, 5, 2, 1)
    assert out["week"] == WEEK.isoformat() and out["members"] == 1
    assert heat.heat_of(100, 100, 100, 100) == 100


def test_two_falls_warn_and_push_to_the_home_store(db: Database, members: Members, till) -> None:
    falling = _member(db, members, "13800000002", store="s7")
    steady = _member(db, members, "13800000003", store="s7")
    # two visits in each of weeks W-5, W-4, W-3 and none since: heat 30, 20, 10 over W-2..W
    for k in (5, 4, 3):
        for d in (0, 2):
            day = WEEK - timedelta(weeks=k) + timedelta(days=d)
            till.send(till.sale(member=falling, at=_noon(day), day=day))
    for k in range(6):  # one visit every week: the same heat each week
        day = WEEK - timedelta(weeks=k)
        till.send(till.sale(member=steady, at=_noon(day), day=day))
    for k in (2, 1, 0):
        with db.transaction() as s:
            heat.compute_week(s, WEEK - timedelta(weeks=k))
    with db.transaction() as s:
        warned = s.scalars(select(ChurnWarning)).all()
    assert [(w.member_id, w.heats, w.store_id) for w in warned] == [(falling, [30, 20, 10], "s7")]

    sent: list[tuple[str, dict, int, bool]] = []
    with db.transaction() as s:
        n = heat.push(s, WEEK, lambda t, p, q, r: sent.append((t, json.loads(p), q, r)))
    assert n == 1
    topic, body, qos, retain = sent[0]
    assert topic == "storegw/v1/s7/notices/churn" and qos == 1 and retain
    assert body["week"] == WEEK.isoformat()
    assert body["members"] == [{"member_id": falling, "heat": 10, "heats": [30, 20, 10]}]
    with db.transaction() as s:
        assert s.get(ChurnWarning, (falling, WEEK)).pushed_at is not None
        # recomputing the week keeps the pushed warning, and warns nobody twice
        heat.compute_week(s, WEEK)
    with db.transaction() as s:
        assert len(s.scalars(select(ChurnWarning)).all()) == 1
        dist = heat.distribution(s, WEEK)
    assert sum(b["members"] for b in dist) == 2
    assert dist[1]["members"] == 1  # 10: the falling member
