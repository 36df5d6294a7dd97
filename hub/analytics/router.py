"""HQ's analytics API (thin: hub/analytics/* hold the rules). Every list says how and when it
was computed (`computed_at`, `method`, `params`) and comes as CSV with `?format=csv` (the same
two facts then in the X-Computed-At and X-Method headers)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.analytics import (
    common,
    facts,
    heat,
    interactions,
    intimacy,
    jobs,
    ltv,
    rfm,
    rules,
    segments,
)
from hub.analytics.models import (
    ChurnWarning,
    MemberHeat,
    MemberIntimacy,
    MemberLtv,
    MemberRfm,
    Segment,
    SegmentMembership,
)
from hub.deps import session
from hub.inputs import CSV_TOO, In, RowId, When, errors

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/analytics", tags=["analytics"], responses={**errors(404, 409, 422), **CSV_TOO}
)
Db = Annotated[Session, Depends(session)]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]
Limit = Annotated[int, Query(ge=1, le=100000)]
# a business day the books can hold (year 1 minus a window would not be a date at all)
Day = Annotated[date, Query(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
After = Annotated[str | None, Query(max_length=36)]


@contextmanager
def _answer(what: str) -> Iterator[None]:
    """The services' refusals as 4xx with the reason (and a log line)."""
    try:
        yield
    except (rules.RuleError, segments.SegmentError, interactions.InteractionError) as err:
        log.warning("%s refused: %s", what, err)
        raise HTTPException(err.status, str(err)) from None
    except ValueError as err:
        log.warning("%s refused: %s", what, err)
        raise HTTPException(422, str(err)) from None


def _listing(
    prov: dict[str, Any], rows: list[dict[str, Any]], fmt: str, name: str, **extra: Any
) -> Any:
    if fmt == "json":
        return {**prov, **extra, "rows": rows}
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "X-Computed-At": prov["computed_at"] or "",
            # header values are latin-1: the method's formulas keep their ASCII part
            "X-Method": prov["method"].encode("ascii", "replace").decode(),
        },
    )


# --- jobs -------------------------------------------------------------------------------


@router.post("/jobs/{name}")
def run_job(
    name: Literal["facts", "rfm", "heat", "intimacy", "segments", "ltv", "daily"],
    db: Db,
    request: Request,
    as_of: Day | None = None,
    window_days: Annotated[int, Query(ge=1, le=3650)] = 365,
    week: Day | None = None,
    period: Literal["day", "week"] = "week",
    horizon_days: Annotated[int, Query(ge=1, le=3650)] = 365,
    holdout_days: Annotated[int, Query(ge=0, le=3650)] = 0,
) -> dict[str, Any]:
    """Run one computation now (the scheduler runs them daily / weekly by itself)."""
    with _answer(f"job {name}"), db.begin():
        day = as_of or common.today(db)
        if name == "facts":
            return {"members": facts.refresh(db, day)}
        if name == "rfm":
            return rfm.compute(db, day, window_days)
        if name == "heat":
            out = heat.compute_week(db, week or common.monday(day))
            publish = request.app.state.analytics.publisher()
            out["pushed_stores"] = (
                heat.push(db, date.fromisoformat(out["week"]), publish) if (publish) else 0
            )
            return out
        if name == "intimacy":
            return intimacy.compute(db, day)
        if name == "segments":
            facts.refresh(db, day)
            return segments.full(db, day)
        if name == "ltv":
            return ltv.compute(db, day, period, horizon_days, holdout_days)
        return jobs.daily(db, day, window_days)


# --- RFM --------------------------------------------------------------------------------


@router.get("/rfm/cells")
def rfm_cells(db: Db, fmt: Format = "json") -> Any:
    """Members and net spend per named cell, with each cell's rule."""
    with db.begin():
        return _listing(common.provenance(db, "rfm"), rfm.cells(db), fmt, "rfm-cells")


@router.get("/rfm/grid")
def rfm_grid(db: Db, fmt: Format = "json") -> Any:
    """Members and net spend per (R, F) score pair."""
    with db.begin():
        return _listing(common.provenance(db, "rfm"), rfm.grid(db), fmt, "rfm-grid")


@router.get("/rfm/members")
def rfm_members(
    db: Db,
    cell: str | None = None,
    limit: Limit = 1000,
    after: After = None,
    fmt: Format = "json",
) -> Any:
    with db.begin():
        q = select(MemberRfm).order_by(MemberRfm.member_id).limit(limit)
        if cell is not None:
            if cell not in rfm.BY_KEY:
                raise HTTPException(422, f"no cell {cell!r} (cells: {', '.join(rfm.BY_KEY)})")
            q = q.where(MemberRfm.cell == cell)
        if after:
            q = q.where(MemberRfm.member_id > after)
        made = common.provenance(db, "rfm")
        as_of = date.fromisoformat(made["params"].get("as_of") or date.today().isoformat())
        rows = [
            {
                "member_id": r.member_id,
                "cell": r.cell,
                "r": r.r,
                "f": r.f,
                "m": r.m,
                "recency_days": rfm.recency_days(as_of, r.last_purchase),
                "frequency": r.frequency,
                "monetary_fen": r.monetary_fen,
            }
            for r in db.scalars(q)
        ]
        return _listing(made, rows, fmt, "rfm-members")


# --- heat and churn ---------------------------------------------------------------------


def _week(db: Session, week: date | None) -> date | None:
    return common.monday(week) if week else heat.newest_week(db)


@router.get("/heat")
def heat_distribution(db: Db, week: Day | None = None, fmt: Format = "json") -> Any:
    """Members per heat band of 10 in a week (default: the newest computed)."""
    with db.begin():
        w = _week(db, week)
        rows = heat.distribution(db, w) if w else []
        return _listing(
            common.provenance(db, "heat"),
            rows,
            fmt,
            "heat",
            week=w.isoformat() if w else None,
            weights=heat.WEIGHTS,
        )


@router.get("/heat/members")
def heat_members(
    db: Db,
    week: Day | None = None,
    limit: Limit = 1000,
    after: After = None,
    fmt: Format = "json",
) -> Any:
    with db.begin():
        w = _week(db, week)
        q = (
            select(MemberHeat)
            .where(MemberHeat.week == w)
            .order_by(MemberHeat.member_id)
            .limit(limit)
        )
        if after:
            q = q.where(MemberHeat.member_id > after)
        rows = [
            {
                "member_id": h.member_id,
                "week": h.week.isoformat(),
                "heat": h.heat,
                "visits": h.visits,
                "online": h.online,
                "reviews": h.reviews,
                "coupons": h.coupons,
            }
            for h in (db.scalars(q) if w else [])
        ]
        return _listing(common.provenance(db, "heat"), rows, fmt, "heat-members")


@router.get("/churn")
def churn_warnings(db: Db, week: Day | None = None, fmt: Format = "json") -> Any:
    """The week's churn warnings: heat fell two weeks in a row (default: the newest week)."""
    with db.begin():
        w = _week(db, week)
        q = select(ChurnWarning).where(ChurnWarning.week == w).order_by(ChurnWarning.member_id)
        rows = [
            {
                "member_id": c.member_id,
                "week": c.week.isoformat(),
                "store_id": c.store_id,
                "heat": c.heat,
                "heats": " > ".join(map(str, c.heats)),
                "pushed_at": c.pushed_at.isoformat() if c.pushed_at else None,
            }
            for c in (db.scalars(q) if w else [])
        ]
        return _listing(
            common.provenance(db, "heat"), rows, fmt, "churn", week=w.isoformat() if w else None
        )


class InteractionIn(In):
    member_id: Annotated[str, Field(min_length=1, max_length=36)]
    kind: Literal["online", "review"]
    at: When
    source: Annotated[str, Field(max_length=64)] | None = None
    key: Annotated[str, Field(min_length=1, max_length=64)] | None = None


@router.post("/interactions", status_code=201)
def add_interaction(body: InteractionIn, db: Db, response: Response) -> dict[str, Any]:
    """An online interaction or a review (feeds heat and intimacy); a repeated `key` is the
    same report (200)."""
    if body.at.tzinfo is None:
        raise HTTPException(422, "at needs a UTC offset")
    if not 2000 <= body.at.year <= 2100:
        raise HTTPException(422, "at must lie between the years 2000 and 2100")
    with _answer("interaction"), db.begin():
        row, created = interactions.record(
            db, body.member_id, body.kind, body.at, body.source, body.key
        )
        if not created:
            response.status_code = 200
        return {
            "id": row.id,
            "member_id": row.member_id,
            "kind": row.kind,
            "at": row.at.isoformat(),
            "created": created,
        }


# --- intimacy ---------------------------------------------------------------------------


@router.get("/intimacy/members")
def intimacy_members(db: Db, limit: Limit = 1000, after: After = None, fmt: Format = "json") -> Any:
    with db.begin():
        q = select(MemberIntimacy).order_by(MemberIntimacy.member_id).limit(limit)
        if after:
            q = q.where(MemberIntimacy.member_id > after)
        rows = [
            {
                "member_id": i.member_id,
                "score": i.score,
                "spend_fen": i.spend_fen,
                "visits": i.visits,
                "interactions": i.interactions,
            }
            for i in db.scalars(q)
        ]
        return _listing(common.provenance(db, "intimacy"), rows, fmt, "intimacy")


# --- segments ---------------------------------------------------------------------------


class SegmentIn(In):
    name: Annotated[str, Field(min_length=1, max_length=segments.NAME_MAX)]
    rule: Annotated[str, Field(min_length=1, max_length=rules.MAX_LEN)]
    description: Annotated[str, Field(max_length=500)] = ""


class SegmentChange(In):
    rule: Annotated[str, Field(min_length=1, max_length=rules.MAX_LEN)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    active: bool | None = None


def _segment(g: Segment, size: int | None = None) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "rule": g.rule,
        "description": g.description,
        "active": g.active,
        "members": size,
    }


@router.get("/segments")
def list_segments(db: Db, fmt: Format = "json") -> Any:
    with db.begin():
        sizes = dict(segments.current_sizes(db))
        rows = [
            _segment(g, sizes.get(g.name, 0))
            for g in db.scalars(select(Segment).order_by(Segment.id))
        ]
        return _listing(
            common.provenance(db, "segments"),
            rows,
            fmt,
            "segments",
            facts={k: f.doc for k, f in rules.FACTS.items()},
        )


@router.post("/segments", status_code=201)
def create_segment(body: SegmentIn, db: Db, request: Request) -> dict[str, Any]:
    """A segment from a rule (see `GET /segments` for the facts); members join it at the
    next ingest batch or job (`POST /jobs/segments` now)."""
    with _answer("segment"), db.begin():
        return _segment(segments.create(db, body.name, body.rule, body.description), 0)


@router.patch("/segments/{seg_id}")
def change_segment(seg_id: RowId, body: SegmentChange, db: Db) -> dict[str, Any]:
    with _answer("segment"), db.begin():
        return _segment(segments.change(db, seg_id, body.rule, body.description, body.active))


@router.get("/segments/{seg_id}/members")
def segment_members(
    seg_id: RowId,
    db: Db,
    entered_since: Day | None = None,
    limit: Limit = 1000,
    after: After = None,
    fmt: Format = "json",
) -> Any:
    """Who is in the segment now; with `entered_since` (a store-local day) every stay that
    began since, open or closed — "became dormant this week"."""
    with _answer("segment"), db.begin():
        segments.get(db, seg_id)
        q = (
            select(SegmentMembership)
            .where(SegmentMembership.segment_id == seg_id)
            .order_by(SegmentMembership.member_id, SegmentMembership.id)
            .limit(limit)
        )
        if entered_since is not None:
            q = q.where(
                SegmentMembership.entered_at >= common.day_start(entered_since, common.zone(db))
            )
        else:
            q = q.where(SegmentMembership.left_at.is_(None))
        if after:
            q = q.where(SegmentMembership.member_id > after)
        rows = [
            {
                "member_id": m.member_id,
                "entered_at": m.entered_at.isoformat(),
                "left_at": m.left_at.isoformat() if m.left_at else None,
            }
            for m in db.scalars(q)
        ]
        return _listing(common.provenance(db, "segments"), rows, fmt, f"segment-{seg_id}")


@router.get("/segments/{seg_id}/sizes")
def segment_sizes(
    seg_id: RowId,
    db: Db,
    first: Day | None = None,
    last: Day | None = None,
    fmt: Format = "json",
) -> Any:
    """Members at the end of each store-local day (default: the last 30 days)."""
    with _answer("segment"), db.begin():
        end = last or common.today(db)
        start = first or date.fromordinal(end.toordinal() - 29)
        if start > end:
            raise HTTPException(422, "first is after last")
        rows = segments.sizes_over_time(db, seg_id, start, end)
        return _listing(common.provenance(db, "segments"), rows, fmt, f"segment-{seg_id}-sizes")


# --- LTV --------------------------------------------------------------------------------


@router.get("/ltv/fits")
def ltv_fits(db: Db) -> dict[str, Any]:
    """The newest fit per scope (chain, segment:<name>): parameters, log-likelihood, holdout."""
    with db.begin():
        return {**common.provenance(db, "ltv"), "fits": ltv.newest_fits(db)}


@router.get("/ltv/members")
def ltv_members(db: Db, limit: Limit = 1000, after: After = None, fmt: Format = "json") -> Any:
    with db.begin():
        q = select(MemberLtv).order_by(MemberLtv.member_id).limit(limit)
        if after:
            q = q.where(MemberLtv.member_id > after)
        rows = [
            {
                "member_id": v.member_id,
                "p_alive": round(v.p_alive, 4),
                "expected_purchases": round(v.expected_purchases, 4),
                "expected_value_fen": v.expected_value_fen,
                "horizon_days": v.horizon_days,
                "repeat_purchases": v.x,
                "first_purchase": v.first_purchase.isoformat(),
            }
            for v in db.scalars(q)
        ]
        return _listing(common.provenance(db, "ltv"), rows, fmt, "ltv-members")


@router.get("/ltv/acquisition")
def ltv_by_acquisition(db: Db, fmt: Format = "json") -> Any:
    """Predicted value by the month of the members' first purchase."""
    with db.begin():
        return _listing(
            common.provenance(db, "ltv"), ltv.by_acquisition_month(db), fmt, "ltv-acquisition"
        )


# --- one member -------------------------------------------------------------------------


@router.get("/members/{member_id}")
def member_scores(member_id: str, db: Db) -> dict[str, Any]:
    """Everything analytics knows of one member (the 360° view shows it)."""
    with db.begin():
        return jobs.member_card(db, member_id)
