"""The console's audit page (hq_admin): the newest entries, filtered by actor, action and day
(store-local days, the console's), and whether the chain verifies."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.audit import service as audit
from hub.console.web import BASE, page_user, render
from hub.deps import session
from hub.loyalty.service import settings

log = logging.getLogger(__name__)
router = APIRouter(prefix=BASE, include_in_schema=False)
Db = Annotated[Session, Depends(session)]
Text = Annotated[str, Query(max_length=200)]


def _day(day: date | None, db: Session) -> datetime | None:
    """The start of a store-local day (the programme's time zone) as an aware datetime."""
    return datetime.combine(day, time(), ZoneInfo(settings(db).timezone)) if day else None


@router.get("/audit")
def audit_page(
    request: Request,
    db: Db,
    account: Annotated[accounts.Account, Depends(page_user("/console/audit"))],
    who: Text = "",
    action: Text = "",
    day_from: Text = "",
    day_to: Text = "",
) -> Response:
    filters = {"who": who, "action": action, "day_from": day_from, "day_to": day_to}
    try:  # the form sends empty fields as ""
        first = date.fromisoformat(day_from) if day_from else None
        last = date.fromisoformat(day_to) if day_to else None
    except ValueError:
        log.warning("audit page: refused dates %r %r", day_from, day_to)
        return render(
            request, "audit.html", status_code=422, rows=[], verdict=None, filters=filters,
            error=f"not a date: {day_from!r} / {day_to!r} (YYYY-MM-DD)",
        )  # fmt: skip
    with db.begin():
        since = _day(first, db)
        until = _day(last + timedelta(days=1), db) if last else None
        rows = audit.listing(db, who or None, action or None, since, until, limit=200)
        verdict = audit.verify(db)
    return render(request, "audit.html", rows=rows, verdict=verdict, filters=filters)
