"""HQ's analytics API (thin: hub/analytics/* hold the rules; their refusals answer through
hub/http_errors.py). Every list says how and when it was computed (`computed_at`, `method`,
`params`) and comes as CSV with `?format=csv` (the same two facts then in the X-Computed-At and
X-Method headers)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from hub.analytics import (
    common,
    facts,
    heat,
    interactions,
    intimacy,
    jobs,
    ltv,
    reads,
    rfm,
    rules,
    segments,
)
from hub.deps import session
from hub.inputs import CSV_TOO, In, RowId, When, errors

router = APIRouter(
    prefix="/analytics", tags=["analytics"], responses={**errors(404, 409, 422), **CSV_TOO}
)
Db = Annotated[Session, Depends(session)]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]
Limit = Annotated[int, Query(ge=1, le=100000)]
# a business day the books can hold (year 1 minus a window would not be a date at all)
Day = Annotated[date, Query(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
After = Annotated[str | None, Query(max_length=36)]


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
    with db.begin():
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
    if cell is not None and cell not in rfm.BY_KEY:
        raise HTTPException(422, f"no cell {cell!r} (cells: {', '.join(rfm.BY_KEY)})")
    with db.begin():
        made = common.provenance(db, "rfm")
        rows = reads.rfm_members(db, cell, limit, after, made["params"].get("as_of"))
        return _listing(made, rows, fmt, "rfm-members")


# --- heat and churn ---------------------------------------------------------------------


@router.get("/heat")
def heat_distribution(db: Db, week: Day | None = None, fmt: Format = "json") -> Any:
    """Members per heat band of 10 in a week (default: the newest computed)."""
    with db.begin():
        w = reads.week_or_newest(db, week)
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
        rows = reads.heat_members(db, reads.week_or_newest(db, week), limit, after)
        return _listing(common.provenance(db, "heat"), rows, fmt, "heat-members")


@router.get("/churn")
def churn_warnings(db: Db, week: Day | None = None, fmt: Format = "json") -> Any:
    """The week's churn warnings: heat fell two weeks in a row (default: the newest week)."""
    with db.begin():
        w = reads.week_or_newest(db, week)
        rows = reads.churn_warnings(db, w)
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
    with db.begin():
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
        rows = reads.intimacy_members(db, limit, after)
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


@router.get("/segments")
def list_segments(db: Db, fmt: Format = "json") -> Any:
    with db.begin():
        return _listing(
            common.provenance(db, "segments"),
            reads.segments_with_sizes(db),
            fmt,
            "segments",
            facts={k: f.doc for k, f in rules.FACTS.items()},
        )


@router.post("/segments", status_code=201)
def create_segment(body: SegmentIn, db: Db, request: Request) -> dict[str, Any]:
    """A segment from a rule (see `GET /segments` for the facts); members join it at the
    next ingest batch or job (`POST /jobs/segments` now)."""
    with db.begin():
        return reads.segment(segments.create(db, body.name, body.rule, body.description), 0)


@router.patch("/segments/{seg_id}")
def change_segment(seg_id: RowId, body: SegmentChange, db: Db) -> dict[str, Any]:
    with db.begin():
        return reads.segment(segments.change(db, seg_id, body.rule, body.description, body.active))


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
    with db.begin():
        rows = reads.segment_members(db, seg_id, entered_since, limit, after)
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
    with db.begin():
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
        rows = reads.ltv_members(db, limit, after)
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
