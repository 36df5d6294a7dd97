"""Member facts the segment rules read (member_facts): purchases in the last 365 days and
ever, the first and last purchase day, per surviving profile, net of refunds. Rebuilt for
every active member by the daily job, and for a batch's members by ingest: the same SQL, the
second restricted to the members given. Computed in the database; nothing comes into Python.
The daily rebuild computes everybody into a temporary stage and writes only the rows that
changed (`common.sync`): a row's `as_of` and `computed_at` say when its figures last changed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from hub.analytics import common
from hub.analytics.models import MemberFacts
from hub.db import utcnow

WINDOW_DAYS = 365
# the sales of these survivors: their own and their absorbed profiles' (members.merged_into
# is indexed, so the ingest path's few members are looked up, not scanned)
_ANY_OF_OWNERS = (
    "s.member_id IN (SELECT x.id FROM members x WHERE x.id IN :ids OR x.merged_into IN :ids)"
)
METHOD = (
    "per surviving profile: purchases (sales not refunded in full) and net spend in the 365"
    " days up to as_of and ever, first and last purchase day"
)


def refresh(s: Session, as_of: date, members: Collection[str] | None = None) -> int:
    """Rebuild the facts of `members` (surviving ids), or of every active member."""
    if members is not None and not members:
        return 0
    target = "member_facts"
    if members is None:
        common.roomy(s)
        target = common.stage(s, target)
    else:
        s.execute(delete(MemberFacts).where(MemberFacts.member_id.in_(list(members))))
    stmt = common.sql(
        f"""
        WITH p0 AS (
            SELECT s.member_id,
                   SUM(CASE WHEN s.business_day > :since THEN {common.NET} ELSE 0 END) AS spend_y,
                   SUM(CASE WHEN s.business_day > :since THEN 1 ELSE 0 END) AS visits_y,
                   SUM({common.NET}) AS spend, COUNT(*) AS visits,
                   MIN(s.business_day) AS first_day, MAX(s.business_day) AS last_day
            FROM sales s
            WHERE {common.PURCHASE} AND s.business_day <= :as_of
                  {"AND " + _ANY_OF_OWNERS if members is not None else ""}
            GROUP BY s.member_id
        ), p AS (
            SELECT {common.owner_of("p0.member_id")} AS member_id, SUM(spend_y) AS spend_y,
                   SUM(visits_y) AS visits_y, SUM(spend) AS spend, SUM(visits) AS visits,
                   MIN(first_day) AS first_day, MAX(last_day) AS last_day
            FROM p0 LEFT JOIN {common.ABSORBED} mm ON mm.id = p0.member_id
            GROUP BY {common.owner_of("p0.member_id")}
        )
        INSERT INTO {target} (member_id, spend_365d_fen, visits_365d, spend_total_fen,
                                  visits_total, first_purchase, last_purchase, as_of, computed_at)
        SELECT m.id, COALESCE(p.spend_y, 0), COALESCE(p.visits_y, 0), COALESCE(p.spend, 0),
               COALESCE(p.visits, 0), p.first_day, p.last_day, :as_of, :now
        FROM members m LEFT JOIN p ON p.member_id = m.id
        WHERE m.merged_into IS NULL {"AND m.id IN :ids" if members is not None else ""}
        """,
        dates=("since", "as_of"),
        stamps=("now",),
    )
    params: dict[str, Any] = {
        "since": as_of - timedelta(days=WINDOW_DAYS),
        "as_of": as_of,
        "now": utcnow(),
    }
    if members is not None:
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
        params["ids"] = list(members)
    s.execute(stmt, params)
    # (not the INSERT's rowcount: SQLite's driver reports -1 for a statement led by WITH)
    q = select(func.count()).select_from(text(target))
    if members is not None:
        q = q.where(text("member_id IN :ids").bindparams(bindparam("ids", expanding=True)))
    n = int(s.scalar(q, {"ids": list(members)} if members is not None else {}) or 0)
    if members is None:
        common.sync(s, "member_facts", target, "member_id", _COMPARED, ("as_of", "computed_at"))
    return n


_COMPARED = (
    "spend_365d_fen",
    "visits_365d",
    "spend_total_fen",
    "visits_total",
    "first_purchase",
    "last_purchase",
)


def owners(s: Session, member_ids: Collection[str]) -> set[str]:
    """The surviving profiles of these member ids (unknown ids drop out)."""
    if not member_ids:
        return set()
    stmt = common.sql(
        "SELECT DISTINCT COALESCE(merged_into, id) FROM members WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    return {r[0] for r in s.execute(stmt, {"ids": list(member_ids)})}
