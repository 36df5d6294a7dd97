"""RFM on a hand-checkable chain: ten members with distinct recency, frequency and spend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.analytics import facts, rfm
from hub.analytics.models import MemberRfm
from hub.db import Database
from hub.members.service import Members, Registration

AS_OF = date(2026, 6, 30)


def _book(db: Database, till, member: str, day: date, fen: int) -> None:
    at = datetime(day.year, day.month, day.day, 4, tzinfo=UTC)  # noon in Shanghai
    till.send(
        till.sale(
            [
                {
                    "sku": "A",
                    "name": "a",
                    "qty_milli": 1000,
                    "unit_price_fen": fen,
                    "total_fen": fen,
                    "category": None,
                }
            ],
            member=member,
            at=at,
            day=day,
        )
    )


@pytest.mark.parametrize("from_facts", [False, True], ids=["from-sales", "from-facts"])
def test_quintiles_and_cells_by_hand(
    db: Database, members: Members, till, from_facts: bool
) -> None:
    ids = []
    for i in range(10):
        with db.transaction() as s:
            ids.append(members.register(s, Registration(phone=f"1380000{i:04d}")).member.id)
    # member i: i+1 purchases of (i+1)·100 fen, the last one 10·(10-i) days before AS_OF —
    # so member 9 is the most recent, most frequent and biggest spender
    for i, mid in enumerate(ids):
        for k in range(i + 1):
            _book(db, till, mid, AS_OF - timedelta(days=10 * (10 - i) + k), (i + 1) * 100)
    # out of the window, and a fully refunded sale: neither counts
    _book(db, till, ids[0], AS_OF - timedelta(days=400), 99999)
    sale = till.sale(member=ids[0], at=datetime(2026, 6, 29, 4, tzinfo=UTC), day=date(2026, 6, 29))
    till.send(sale)
    till.send(till.refund(sale))

    with db.transaction() as s:
        if from_facts:  # the daily job's way: facts first, RFM read from them
            facts.refresh(s, AS_OF)
        out = rfm.compute(s, AS_OF, window_days=365, from_facts=from_facts)
    assert out["from_facts"] is from_facts
    with db.transaction() as s:
        got = {r.member_id: r for r in s.scalars(select(MemberRfm))}
    assert len(got) == 10
    expect_score = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    for i, mid in enumerate(ids):
        row = got[mid]
        assert rfm.recency_days(AS_OF, row.last_purchase) == 10 * (10 - i)
        assert row.frequency == i + 1
        assert row.monetary_fen == (i + 1) ** 2 * 100
        assert (row.r, row.f, row.m) == (expect_score[i],) * 3
        assert row.cell == rfm.cell(row.r, row.f, row.m)
    # 0,1 → dormant; 2,3 → dormant (f=2 < 3, m=2 < 4); 4,5 → steady; 6,7 → champions (4,4,4)…
    assert [got[m].cell for m in ids] == ["dormant"] * 4 + ["steady"] * 2 + ["champions"] * 4
    assert out["cells"] == {"dormant": 4, "steady": 2, "champions": 4}


def test_ties_share_a_score_and_cells_cover_everything() -> None:
    seen = {rfm.cell(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert seen == set(rfm.BY_KEY)
    assert rfm.cell(5, 1, 1) == "new"
    assert rfm.cell(2, 4, 1) == "at_risk"
    assert rfm.cell(1, 1, 5) == "at_risk"
