"""The console's analytics pages (HQ marketing and analysts): the RFM grid with members and
spend per cell, the heat distribution and this week's churn warnings, segment sizes over the
last 30 days, predicted value by acquisition month — and one member's card (heat by week,
predicted value, P(alive), RFM cell, intimacy). Charts are ECharts options the page embeds
as JSON (hub/console/static/console.js draws them); every figure comes from the same services
as the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounts.service import Account
from hub.analytics import common, heat, jobs, ltv, rfm, segments
from hub.analytics.models import ChurnWarning, Segment
from hub.console.web import BASE, page_user, render
from hub.deps import session

router = APIRouter(prefix=f"{BASE}/analytics", include_in_schema=False)
Db = Annotated[Session, Depends(session)]
MAX_SEGMENTS = 8  # lines on the sizes chart


def _overview(db: Session) -> dict[str, Any]:
    grid = {(g["r"], g["f"]): g for g in rfm.grid(db)}
    week = heat.newest_week(db)
    churn = (
        db.scalars(
            select(ChurnWarning).where(ChurnWarning.week == week).order_by(ChurnWarning.heat)
        ).all()
        if week
        else []
    )
    today = common.today(db)
    first = today - timedelta(days=29)
    segs = db.scalars(
        select(Segment).where(Segment.active).order_by(Segment.id).limit(MAX_SEGMENTS)
    ).all()
    return {
        "rfm": {
            "cells": rfm.cells(db),
            "heat": [
                [f - 1, r - 1, grid.get((r, f), {}).get("members", 0)]
                for r in range(1, 6)
                for f in range(1, 6)
            ],
            "spend": [
                [f - 1, r - 1, grid.get((r, f), {}).get("spend_fen", 0)]
                for r in range(1, 6)
                for f in range(1, 6)
            ],
            "max": max([g["members"] for g in grid.values()] or [0]),
            **common.provenance(db, "rfm"),
        },
        "heat": {
            "week": week.isoformat() if week else None,
            "bands": heat.distribution(db, week) if week else [],
            **common.provenance(db, "heat"),
        },
        "churn": [
            {
                "member_id": c.member_id,
                "store_id": c.store_id,
                "heats": c.heats,
                "pushed": c.pushed_at is not None,
            }
            for c in churn
        ],
        "segments": {
            "days": [(first + timedelta(days=i)).isoformat() for i in range(30)],
            "series": [
                {
                    "type": "line",
                    "name": g.name,
                    "data": [
                        d["members"] for d in segments.sizes_over_time(db, g.id, first, today)
                    ],
                }
                for g in segs
            ],
            **common.provenance(db, "segments"),
        },
        "ltv": {"months": ltv.by_acquisition_month(db), **common.provenance(db, "ltv")},
    }


@router.get("")
def overview_page(
    request: Request, db: Db, account: Annotated[Account, Depends(page_user(f"{BASE}/analytics"))]
) -> Response:
    with db.begin():
        data = _overview(db)
    return render(request, "analytics.html", data=data, rfm_cells=rfm.CELLS)


@router.get("/members/{member_id}")
def member_page(
    request: Request,
    db: Db,
    member_id: str,
    account: Annotated[Account, Depends(page_user(f"{BASE}/analytics"))],
) -> Response:
    with db.begin():
        card = jobs.member_card(db, member_id)
    found = any(card[k] for k in ("rfm", "heat", "intimacy", "ltv"))
    return render(
        request,
        "analytics_member.html",
        status_code=200 if found else 404,
        card=card,
    )
