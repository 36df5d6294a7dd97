"""The HQ audit log over HTTP: the entries (newest first, filtered) and the chain's check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.deps import session
from hub.inputs import When, errors

router = APIRouter(tags=["audit"], responses=errors())
Db = Annotated[Session, Depends(session)]
Text = Annotated[str, Query(max_length=200)]


@router.get("/audit")
def entries(
    db: Db,
    who: Text | None = None,
    action: Text | None = None,
    since: When | None = None,
    until: When | None = None,
    before_seq: Annotated[int, Query(ge=1, le=2**31 - 1)] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Audit entries, newest first; page back with `before_seq` (the last `seq` you got)."""
    with db.begin():
        rows = audit.listing(db, who, action, since, until, before_seq, limit)
    return {"entries": rows}


@router.get("/audit/verify")
def verify(db: Db) -> dict[str, Any]:
    """Walk the whole chain and hold it against the head; `ok: false` names the first fault."""
    with db.begin():
        v = audit.verify(db)
    return {"ok": v.ok, "rows": v.rows, "problem": v.problem, "head": v.head}
