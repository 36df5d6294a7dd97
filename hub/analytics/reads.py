"""The analytics lists as HQ reads them, one page at a time (by member id, after a cursor):
what the scores jobs stored, as rows of plain values (JSON and CSV alike)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, ScalarResult, select
from sqlalchemy.orm import Session

from hub.analytics import common, heat, rfm, segments
from hub.analytics.models import (
    ChurnWarning,
    MemberHeat,
    MemberIntimacy,
    MemberLtv,
    MemberRfm,
    Segment,
    SegmentMembership,
)


def _page(
    s: Session, model: Any, limit: int, after: str | None, *where: ColumnElement[bool]
) -> ScalarResult[Any]:
    """One page of a per-member score table, by member id after the cursor `after`."""
    q = select(model).where(*where).order_by(model.member_id).limit(limit)
    if after:
        q = q.where(model.member_id > after)
    return s.scalars(q)


def rfm_members(
    s: Session, cell: str | None, limit: int, after: str | None, as_of: str | None
) -> list[dict[str, Any]]:
    """`as_of`: the day the scores were computed for (recency counts from it); None before
    any run: the chain's today."""
    in_cell = () if cell is None else (MemberRfm.cell == cell,)
    on = date.fromisoformat(as_of) if as_of else common.today(s)
    return [
        {
            "member_id": r.member_id,
            "cell": r.cell,
            "r": r.r,
            "f": r.f,
            "m": r.m,
            "recency_days": rfm.recency_days(on, r.last_purchase),
            "frequency": r.frequency,
            "monetary_fen": r.monetary_fen,
        }
        for r in _page(s, MemberRfm, limit, after, *in_cell)
    ]


def week_or_newest(s: Session, week: date | None) -> date | None:
    """The Monday of `week`, or the newest week heat was computed for (None: never)."""
    return common.monday(week) if week else heat.newest_week(s)


def heat_members(
    s: Session, week: date | None, limit: int, after: str | None
) -> list[dict[str, Any]]:
    if week is None:
        return []
    return [
        {
            "member_id": h.member_id,
            "week": h.week.isoformat(),
            "heat": h.heat,
            "visits": h.visits,
            "online": h.online,
            "reviews": h.reviews,
            "coupons": h.coupons,
        }
        for h in _page(s, MemberHeat, limit, after, MemberHeat.week == week)
    ]


def churn_warnings(s: Session, week: date | None) -> list[dict[str, Any]]:
    if week is None:
        return []
    q = select(ChurnWarning).where(ChurnWarning.week == week).order_by(ChurnWarning.member_id)
    return [
        {
            "member_id": c.member_id,
            "week": c.week.isoformat(),
            "store_id": c.store_id,
            "heat": c.heat,
            "heats": " > ".join(map(str, c.heats)),
            "pushed_at": c.pushed_at.isoformat() if c.pushed_at else None,
        }
        for c in s.scalars(q)
    ]


def intimacy_members(s: Session, limit: int, after: str | None) -> list[dict[str, Any]]:
    return [
        {
            "member_id": i.member_id,
            "score": i.score,
            "spend_fen": i.spend_fen,
            "visits": i.visits,
            "interactions": i.interactions,
        }
        for i in _page(s, MemberIntimacy, limit, after)
    ]


def segment(g: Segment, size: int | None = None) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "rule": g.rule,
        "description": g.description,
        "active": g.active,
        "members": size,
    }


def segments_with_sizes(s: Session) -> list[dict[str, Any]]:
    sizes = dict(segments.current_sizes(s))
    return [
        segment(g, sizes.get(g.name, 0)) for g in s.scalars(select(Segment).order_by(Segment.id))
    ]


def segment_members(
    s: Session, seg_id: int, entered_since: date | None, limit: int, after: str | None
) -> list[dict[str, Any]]:
    """Who is in the segment now; with `entered_since` (a store-local day) every stay that
    began since, open or closed."""
    segments.get(s, seg_id)
    q = (
        select(SegmentMembership)
        .where(SegmentMembership.segment_id == seg_id)
        .order_by(SegmentMembership.member_id, SegmentMembership.id)
        .limit(limit)
    )
    if entered_since is not None:
        q = q.where(SegmentMembership.entered_at >= common.day_start(entered_since, common.zone(s)))
    else:
        q = q.where(SegmentMembership.left_at.is_(None))
    if after:
        q = q.where(SegmentMembership.member_id > after)
    return [
        {
            "member_id": m.member_id,
            "entered_at": m.entered_at.isoformat(),
            "left_at": m.left_at.isoformat() if m.left_at else None,
        }
        for m in s.scalars(q)
    ]


def ltv_members(s: Session, limit: int, after: str | None) -> list[dict[str, Any]]:
    return [
        {
            "member_id": v.member_id,
            "p_alive": round(v.p_alive, 4),
            "expected_purchases": round(v.expected_purchases, 4),
            "expected_value_fen": v.expected_value_fen,
            "horizon_days": v.horizon_days,
            "repeat_purchases": v.x,
            "first_purchase": v.first_purchase.isoformat(),
        }
        for v in _page(s, MemberLtv, limit, after)
    ]
