"""Segments: named rules (hub/analytics/rules.py) over member facts, and who is in each, with
history. A member's stay in a segment is one `segment_memberships` row: entered_at, and
left_at once he no longer matches, so "entered `dormant` this week" is a range query.

Recomputed two ways with one piece of SQL: for the members of each ingest batch (their facts
refreshed first, in the batch's transaction) and for everybody by the daily job. Each way
closes the stays of members who no longer match and opens stays for members who newly match,
in the database (UPDATE … WHERE … NOT IN (matching); INSERT … SELECT matching WHERE no open
stay), so memory stays flat however many members there are."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from hub.analytics import common, heat, rules
from hub.analytics.models import Segment, SegmentMembership
from hub.db import utcnow

METHOD = "rule over member facts (hub/analytics/rules.py), evaluated in SQL; stays kept"
_JOINS = {
    "t": "LEFT JOIN member_tiers t ON t.member_id = f.member_id",
    "h": "LEFT JOIN member_heat h ON h.member_id = f.member_id AND h.week = :heat_week",
    "r": "LEFT JOIN member_rfm r ON r.member_id = f.member_id",
    "i": "LEFT JOIN member_intimacy i ON i.member_id = f.member_id",
    "l": "LEFT JOIN member_ltv l ON l.member_id = f.member_id",
}
NAME_MAX = 64


class SegmentError(LookupError):
    """No such segment (404)."""


def check_rule(source: str) -> rules.Node:
    return rules.parse(source)


def create(s: Session, name: str, rule: str, description: str = "") -> Segment:
    check_rule(rule)
    if not name.strip():
        raise rules.RuleError("a segment needs a name")
    seg = Segment(name=name.strip(), rule=rule, description=description)
    s.add(seg)
    s.flush()  # a taken name: the unique key answers (409)
    return seg


def change(
    s: Session, seg_id: int, rule: str | None, description: str | None, active: bool | None
) -> Segment:
    seg = get(s, seg_id)
    if rule is not None:
        check_rule(rule)
        seg.rule = rule
    if description is not None:
        seg.description = description
    if active is not None:
        seg.active = active
    seg.updated_at = utcnow()
    return seg


def get(s: Session, seg_id: int) -> Segment:
    seg = s.get(Segment, seg_id)
    if seg is None:
        raise SegmentError(f"no segment {seg_id}")
    return seg


def _matching(s: Session, seg: Segment, as_of: date, restricted: bool) -> tuple[str, dict]:
    compiled = rules.compile_sql(
        check_rule(seg.rule), as_of, s.get_bind().dialect.name, correlated=restricted
    )
    joins = " ".join(_JOINS[j] for j in sorted(compiled.joins - {"m"}))
    params = dict(compiled.params)
    if "h" in compiled.joins:
        params["heat_week"] = heat.newest_week(s) or date(1970, 1, 5)
    members = "JOIN members m ON m.id = f.member_id"
    if restricted:
        q = (
            f"SELECT f.member_id FROM member_facts f {members} {joins}"
            f" WHERE m.merged_into IS NULL AND {compiled.where} AND f.member_id IN :ids"
        )
    else:
        # everybody: right after the full rebuild of member_facts, which holds the surviving
        # profiles only, so members is joined only for a rule over its columns
        members = members if "m" in compiled.joins else ""
        q = f"SELECT f.member_id FROM member_facts f {members} {joins} WHERE {compiled.where}"
    return q, params


def refresh(
    s: Session,
    as_of: date,
    members: Collection[str] | None = None,
    now: datetime | None = None,
) -> dict[str, dict[str, int]]:
    """Bring every active segment's stays up to date for `members` (surviving ids whose facts
    are current), or for everybody. Returns per segment how many entered and left."""
    if members is not None and not members:
        return {}
    now = now or utcnow()
    out: dict[str, dict[str, int]] = {}
    restricted = members is not None
    pg = s.get_bind().dialect.name == "postgresql"
    if not restricted:
        common.roomy(s)
        # everybody: who matches goes to a keyed scratch table first, so closing and opening
        # stays are two anti-joins (a NOT IN over a million ids would not fit work_mem)
        s.execute(text("DROP TABLE IF EXISTS segment_match"))
        s.execute(text("CREATE TEMPORARY TABLE segment_match (member_id VARCHAR(36) PRIMARY KEY)"))
    for seg in s.scalars(select(Segment).where(Segment.active).order_by(Segment.id)).all():
        match, params = _matching(s, seg, as_of, restricted)
        params.update(sid=seg.id, now=now)
        dates = tuple(k for k, v in params.items() if isinstance(v, date))
        if restricted:
            matching = f"({match})"
            unmatched = f"member_id IN :ids AND member_id NOT IN {matching}"
        else:
            s.execute(
                common.sql(f"INSERT INTO segment_match (member_id) {match}", dates=dates), params
            )
            if pg:
                s.execute(text("ANALYZE segment_match"))
            matching = "(SELECT member_id FROM segment_match)"
            unmatched = (
                "NOT EXISTS (SELECT 1 FROM segment_match x"
                " WHERE x.member_id = segment_memberships.member_id)"
            )
        left = common.sql(
            f"UPDATE segment_memberships SET left_at = :now"
            f" WHERE segment_id = :sid AND left_at IS NULL AND {unmatched}",
            dates=dates,
            stamps=("now",),
        )
        entered = common.sql(
            f"INSERT INTO segment_memberships (segment_id, member_id, entered_at)"
            f" SELECT :sid, q.member_id, :now FROM {matching} q"
            f" WHERE NOT EXISTS (SELECT 1 FROM segment_memberships x WHERE x.segment_id = :sid"
            f" AND x.member_id = q.member_id AND x.left_at IS NULL)"
            # two ingest workers deciding one member at once: the open-stay key keeps one
            f" ON CONFLICT (segment_id, member_id) WHERE left_at IS NULL DO NOTHING",
            dates=dates,
            stamps=("now",),
        )
        if restricted:
            params["ids"] = list(members)  # type: ignore[arg-type]
            left = left.bindparams(bindparam("ids", expanding=True))
            entered = entered.bindparams(bindparam("ids", expanding=True))
        n_left = s.execute(left, params).rowcount or 0
        n_in = s.execute(entered, params).rowcount or 0
        out[seg.name] = {"entered": n_in, "left": n_left}
        if not restricted:
            s.execute(text("DELETE FROM segment_match"))
    if not restricted:
        s.execute(text("DROP TABLE segment_match"))
        if pg and sum(c["entered"] + c["left"] for c in out.values()) > 10_000:
            s.execute(text("ANALYZE segment_memberships"))  # as common.sync does: true plans
    return out


def full(s: Session, as_of: date) -> dict[str, Any]:
    """The daily job's pass over everybody, recorded as a run with the sizes."""
    now = utcnow()
    changes = refresh(s, as_of, None, now)
    sizes = dict(current_sizes(s))
    summary = {name: {**c, "size": sizes.get(name, 0)} for name, c in changes.items()}
    common.record(s, "segments", METHOD, {"as_of": as_of.isoformat()}, summary, now)
    return summary


def current_sizes(s: Session) -> list[tuple[str, int]]:
    rows = s.execute(
        select(Segment.name, func.count(SegmentMembership.id))
        .outerjoin(
            SegmentMembership,
            (SegmentMembership.segment_id == Segment.id) & SegmentMembership.left_at.is_(None),
        )
        .group_by(Segment.name)
        .order_by(Segment.name)
    ).all()
    return [(name, n) for name, n in rows]


def members_of(s: Session, seg_id: int) -> set[str]:
    return set(
        s.scalars(
            select(SegmentMembership.member_id).where(
                SegmentMembership.segment_id == seg_id, SegmentMembership.left_at.is_(None)
            )
        )
    )


def entered(s: Session, seg_id: int, since: datetime) -> list[SegmentMembership]:
    """Stays that began at or after `since` (still open or not): "became dormant this week"."""
    get(s, seg_id)
    return list(
        s.scalars(
            select(SegmentMembership)
            .where(SegmentMembership.segment_id == seg_id, SegmentMembership.entered_at >= since)
            .order_by(SegmentMembership.entered_at, SegmentMembership.member_id)
        )
    )


def sizes_over_time(s: Session, seg_id: int, first: date, last: date) -> list[dict[str, Any]]:
    """Members in the segment at the end of each store-local day from `first` to `last`."""
    get(s, seg_id)
    if (last - first).days > 366:
        raise rules.RuleError("at most 366 days at a time")
    tz = common.zone(s)
    out = []
    day = first
    while day <= last:
        end = common.day_start(day + timedelta(days=1), tz)
        n = s.scalar(
            select(func.count()).where(
                SegmentMembership.segment_id == seg_id,
                SegmentMembership.entered_at < end,
                (SegmentMembership.left_at.is_(None)) | (SegmentMembership.left_at >= end),
            )
        )
        out.append({"day": day.isoformat(), "members": n})
        day += timedelta(days=1)
    return out
