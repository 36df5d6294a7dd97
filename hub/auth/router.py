"""API keys for integrations (hq_admin): create (the key is shown once), list, rotate (a new
key, the old one revoked at once), revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.auth.service import Tokens
from hub.deps import Actor, session
from hub.inputs import In, RowId, errors

router = APIRouter(tags=["api keys"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]
# `<area>:read`, `<area>:write` (hub/auth/policy.py) or `*`
Scope = Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9-]*:(read|write))$")]


class KeyIn(In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=100)]


def _tokens(request: Request) -> Tokens:
    return request.app.state.tokens  # type: ignore[no-any-return]


def _issued(request: Request, view: dict[str, Any], key: str) -> dict[str, Any]:
    _tokens(request).reload()
    return {**view, "key": key}


@router.get("/api-keys")
def list_keys(request: Request, db: Db) -> dict[str, Any]:
    with db.begin():
        return {"keys": _tokens(request).listing(db)}


@router.post("/api-keys", status_code=201)
def create_key(request: Request, body: KeyIn, db: Db, who: Actor) -> dict[str, Any]:
    """A new key with these scopes; `key` is in this answer only (the hub keeps a hash)."""
    with db.begin():
        view, key = _tokens(request).create(db, body.name, body.scopes)
        audit.record(db, who, "api_key.create", body.name, None, view)
    return _issued(request, view, key)


@router.post("/api-keys/{key_id}/rotate", status_code=201)
def rotate_key(request: Request, key_id: RowId, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        view, key = _tokens(request).rotate(db, key_id)
        audit.record(db, who, "api_key.rotate", str(key_id), None, view)
    return _issued(request, view, key)


@router.post("/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: RowId, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        view = _tokens(request).revoke(db, key_id)
        audit.record(db, who, "api_key.revoke", str(key_id), None, view)
    _tokens(request).reload()
    return view
