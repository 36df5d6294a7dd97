"""Heat index (会员互动热度), 0-100, one value per member per week, and the churn warning.

The heat of week W (its Monday, store-local) counts the four weeks ending with W's Sunday:
  visits    days with a purchase               5 points each, at most 8 days   → 40
  online    online interactions + mall orders  2.5 points each, at most 10    → 25
  reviews   reviews                            5 points each, at most 3       → 15
  coupons   coupons redeemed                   5 points each, at most 4       → 20
heat = 5·min(visits, 8) + ⌊5·min(online, 10) / 2⌋ + 5·min(reviews, 3) + 5·min(coupons, 4).
A row is written for every member with any activity, and for every member whose previous week
was above 0 (so a fall to 0 is seen). Computed in the database, one INSERT … SELECT.

Churn warning: heat fell two weeks in a row, h(W-2) > h(W-1) > h(W). Warnings go to the
member's home store (`origin_store`) as one retained message per store on
storegw/v1/{store}/notices/churn: the week's warnings for its members."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from hub.analytics import common
from hub.analytics.models import ChurnWarning, MemberHeat
from hub.db import utcnow
from protocols import topics

WEIGHTS = {"visits": (5, 8), "online": (2.5, 10), "reviews": (5, 3), "coupons": (5, 4)}
METHOD = (
    "heat = 5·min(visit days, 8) + floor(5·min(online interactions + mall orders, 10)/2)"
    " + 5·min(reviews, 3) + 5·min(coupons redeemed, 4) over the 4 weeks ending with the week;"
    " churn warning when heat fell two weeks in a row"
)
Publish = Callable[[str, bytes, int, bool], None]


def heat_of(visits: int, online: int, reviews: int, coupons: int) -> int:
    """The formula in Python (the SQL below computes the same)."""
    return 5 * min(visits, 8) + 5 * min(online, 10) // 2 + 5 * min(reviews, 3) + 5 * min(coupons, 4)


def compute_week(s: Session, week: date) -> dict[str, Any]:
    """(Re)compute week `week`'s heat (a Monday) and its churn warnings."""
    week = common.monday(week)
    tz = common.zone(s)
    first, last = week - timedelta(days=21), week + timedelta(days=6)
    start, end = common.day_start(first, tz), common.day_start(last + timedelta(days=1), tz)
    common.roomy(s)
    now = utcnow()
    s.execute(delete(MemberHeat).where(MemberHeat.week == week))
    owner = common.OWNER
    heat = (
        f"5 * {common.capped('COALESCE(v.n, 0)', 8)}"
        f" + (5 * {common.capped('COALESCE(o.n, 0)', 10)}) / 2"
        f" + 5 * {common.capped('COALESCE(rv.n, 0)', 3)}"
        f" + 5 * {common.capped('COALESCE(c.n, 0)', 4)}"
    )
    s.execute(
        common.sql(
            f"""
            WITH v AS (
                SELECT {common.owner_of("s.member_id")} AS member_id,
                       COUNT(DISTINCT s.business_day) AS n
                FROM sales s LEFT JOIN {common.ABSORBED} mm ON mm.id = s.member_id
                WHERE s.business_day >= :first AND s.business_day <= :last AND {common.PURCHASE}
                      AND s.member_id IN (SELECT id FROM members)
                GROUP BY {common.owner_of("s.member_id")}
            ), o AS (
                SELECT {owner} AS member_id, COUNT(*) AS n FROM (
                    SELECT member_id FROM member_interactions
                    WHERE kind = 'online' AND at >= :start AND at < :end
                    UNION ALL
                    SELECT member_id FROM mall_orders
                    WHERE created_at >= :start AND created_at < :end
                ) x JOIN members m ON m.id = x.member_id
                GROUP BY {owner}
            ), rv AS (
                SELECT {owner} AS member_id, COUNT(*) AS n
                FROM member_interactions x JOIN members m ON m.id = x.member_id
                WHERE x.kind = 'review' AND x.at >= :start AND x.at < :end
                GROUP BY {owner}
            ), c AS (
                SELECT {owner} AS member_id, COUNT(*) AS n
                FROM coupons x JOIN members m ON m.id = x.member_id
                WHERE x.status = 'redeemed' AND x.redeemed_at >= :start AND x.redeemed_at < :end
                GROUP BY {owner}
            ), ids AS (
                SELECT member_id FROM v UNION SELECT member_id FROM o
                UNION SELECT member_id FROM rv UNION SELECT member_id FROM c
                UNION SELECT h.member_id FROM member_heat h JOIN members m ON m.id = h.member_id
                      WHERE h.week = :prev AND h.heat > 0 AND m.merged_into IS NULL
            )
            INSERT INTO member_heat
                (member_id, week, heat, visits, online, reviews, coupons, computed_at)
            SELECT ids.member_id, :week, {heat}, COALESCE(v.n, 0), COALESCE(o.n, 0),
                   COALESCE(rv.n, 0), COALESCE(c.n, 0), :now
            FROM ids LEFT JOIN v ON v.member_id = ids.member_id
                     LEFT JOIN o ON o.member_id = ids.member_id
                     LEFT JOIN rv ON rv.member_id = ids.member_id
                     LEFT JOIN c ON c.member_id = ids.member_id
            """,
            dates=("first", "last", "week", "prev"),
            stamps=("start", "end", "now"),
        ),
        {
            "first": first,
            "last": last,
            "week": week,
            "prev": week - timedelta(days=7),
            "start": start,
            "end": end,
            "now": now,
        },
    )
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("ANALYZE member_heat"))  # the new week's rows, for the segments' plans
    warned = _warn(s, week, now)
    rows, avg = s.execute(
        select(func.count(), func.avg(MemberHeat.heat)).where(MemberHeat.week == week)
    ).one()
    params = {"week": week.isoformat(), "days": [first.isoformat(), last.isoformat()]}
    summary = {"members": rows, "mean_heat": float(avg or 0), "churn_warnings": warned}
    common.record(s, "heat", METHOD, params, summary, now)
    return {**params, **summary}


def _warn(s: Session, week: date, now: Any) -> int:
    """Warnings of `week`: those not yet pushed are recomputed, pushed ones stay."""
    s.execute(
        delete(ChurnWarning).where(ChurnWarning.week == week, ChurnWarning.pushed_at.is_(None))
    )
    rows = s.execute(
        common.sql(
            """
            SELECT h0.member_id, m.origin_store, h2.heat, h1.heat, h0.heat
            FROM member_heat h0
            JOIN member_heat h1 ON h1.member_id = h0.member_id AND h1.week = :w1
            JOIN member_heat h2 ON h2.member_id = h0.member_id AND h2.week = :w2
            JOIN members m ON m.id = h0.member_id
            WHERE h0.week = :w0 AND h2.heat > h1.heat AND h1.heat > h0.heat
              AND NOT EXISTS (SELECT 1 FROM churn_warnings cw
                              WHERE cw.member_id = h0.member_id AND cw.week = :w0)
            """,
            dates=("w0", "w1", "w2"),
        ),
        {"w0": week, "w1": week - timedelta(days=7), "w2": week - timedelta(days=14)},
    ).all()
    for member_id, store, h2, h1, h0 in rows:
        s.add(
            ChurnWarning(
                member_id=member_id,
                week=week,
                store_id=store,
                heat=h0,
                heats=[h2, h1, h0],
                created_at=now,
            )
        )
    s.flush()
    return len(rows)


def push(s: Session, week: date, publish: Publish) -> int:
    """Send each home store its members' warnings of `week` (retained, QoS 1): the whole
    week's list every time, so a gateway that connects later still gets it."""
    week = common.monday(week)
    warnings = s.scalars(
        select(ChurnWarning).where(ChurnWarning.week == week, ChurnWarning.store_id.is_not(None))
    ).all()
    by_store: dict[str, list[ChurnWarning]] = defaultdict(list)
    for w in warnings:
        by_store[w.store_id].append(w)  # type: ignore[index]
    now = utcnow()
    sent = 0
    for store, ws in sorted(by_store.items()):
        try:
            topic = topics.notices(store, "churn")
        except topics.TopicError:
            continue  # a home store no topic can name: listed in the API, not pushed
        body = {
            "kind": "churn_warnings",
            "store": store,
            "week": week.isoformat(),
            "sent_at": now.isoformat(),
            "members": [
                {"member_id": w.member_id, "heat": w.heat, "heats": w.heats}
                for w in sorted(ws, key=lambda w: w.member_id)
            ],
        }
        publish(topic, json.dumps(body, ensure_ascii=False).encode(), 1, True)
        sent += 1
    s.execute(
        update(ChurnWarning)
        .where(
            ChurnWarning.week == week,
            ChurnWarning.pushed_at.is_(None),
            ChurnWarning.store_id.in_(list(by_store)),
        )
        .values(pushed_at=now)
    )
    return sent


def distribution(s: Session, week: date) -> list[dict[str, int]]:
    """Members per band of 10 (0-9, 10-19, …, 90-100) in `week`."""
    band = (
        func.min(MemberHeat.heat // 10, 9)
        if s.get_bind().dialect.name == "sqlite"
        else (func.least(MemberHeat.heat // 10, 9))
    )
    rows = dict(
        s.execute(select(band, func.count()).where(MemberHeat.week == week).group_by(band)).all()
    )
    return [
        {"from": b * 10, "to": 100 if b == 9 else b * 10 + 9, "members": rows.get(b, 0)}
        for b in range(10)
    ]


def newest_week(s: Session) -> date | None:
    return s.scalar(select(func.max(MemberHeat.week)))
