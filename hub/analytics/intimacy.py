"""Intimacy score (会员亲密度), 0-100, for the 360° view: how close a member is to the chain over
the last 365 days.
  spend         net spend, ¥5,000 (500,000 fen) or more gives the full 50
  visits        purchases, 52 (weekly) or more gives the full 30
  interactions  online interactions, reviews, mall orders, coupons redeemed; 24 gives 20
score = ⌊50·min(spend, 500000)/500000⌋ + ⌊30·min(visits, 52)/52⌋ + ⌊20·min(interactions, 24)/24⌋.
Reads member_facts for spend and visits (rebuild them first)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.analytics import common
from hub.analytics.models import MemberIntimacy
from hub.db import utcnow

METHOD = (
    "intimacy = floor(50·min(net spend 365d, 500000 fen)/500000) + floor(30·min(purchases"
    " 365d, 52)/52) + floor(20·min(online + reviews + mall orders + coupons redeemed, 24)/24)"
)


def score_of(spend_fen: int, visits: int, interactions: int) -> int:
    return (
        50 * min(spend_fen, 500000) // 500000
        + 30 * min(visits, 52) // 52
        + 20 * min(interactions, 24) // 24
    )


_COMPARED = ("score", "spend_fen", "visits", "interactions")


def compute(s: Session, as_of: date) -> dict[str, Any]:
    tz = common.zone(s)
    start = common.day_start(as_of - timedelta(days=364), tz)
    end = common.day_start(as_of + timedelta(days=1), tz)
    common.roomy(s)
    now = utcnow()
    stage = common.stage(s, "member_intimacy")  # only the changed rows are written
    owner = common.OWNER
    s.execute(
        common.sql(
            f"""
            WITH x AS (
                SELECT {owner} AS member_id, COUNT(*) AS n FROM (
                    SELECT member_id FROM member_interactions WHERE at >= :start AND at < :end
                    UNION ALL
                    SELECT member_id FROM mall_orders
                    WHERE created_at >= :start AND created_at < :end
                    UNION ALL
                    SELECT member_id FROM coupons
                    WHERE status = 'redeemed' AND redeemed_at >= :start AND redeemed_at < :end
                ) a JOIN members m ON m.id = a.member_id
                GROUP BY {owner}
            )
            INSERT INTO {stage}
                (member_id, score, spend_fen, visits, interactions, computed_at)
            SELECT f.member_id,
                   (50 * {common.capped("f.spend_365d_fen", 500000)}) / 500000
                   + (30 * {common.capped("f.visits_365d", 52)}) / 52
                   + (20 * {common.capped("COALESCE(x.n, 0)", 24)}) / 24,
                   f.spend_365d_fen, f.visits_365d, COALESCE(x.n, 0), :now
            FROM member_facts f LEFT JOIN x ON x.member_id = f.member_id
            """,
            stamps=("start", "end", "now"),
        ),
        {"start": start, "end": end, "now": now},
    )
    common.sync(s, "member_intimacy", stage, "member_id", _COMPARED, ("computed_at",))
    n, avg = s.execute(select(func.count(), func.avg(MemberIntimacy.score))).one()
    params = {"as_of": as_of.isoformat()}
    common.record(s, "intimacy", METHOD, params, {"members": n, "mean": float(avg or 0)}, now)
    return {**params, "members": n}
