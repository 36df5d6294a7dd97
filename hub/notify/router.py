"""Notification outbox API: what was queued and sent, and a dispatch run now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.deps import session
from hub.inputs import errors
from hub.notify import outbox

router = APIRouter(prefix="/notifications", tags=["notify"], responses=errors())
Db = Annotated[Session, Depends(session)]


@router.get("")
def listing(
    db: Db,
    member_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    with db.begin():
        return {"notifications": outbox.listing(db, member_id, limit)}


@router.post("/dispatch")
def dispatch(request: Request, db: Db) -> dict[str, Any]:
    """Send what is due now (the job does this every few seconds)."""
    with db.begin():
        return outbox.dispatch(db, request.app.state.channels, utcnow())
