"""The accounts API: the OAuth2 token endpoint (RFC 6749: the password grant and the
refresh-token grant, form-encoded), revocation (RFC 7009), who am I, and account management
for hq_admin. Who may call what is hub/auth/policy.py's."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.audit import service as audit
from hub.auth.signing import ACCESS_TTL
from hub.deps import Actor, session
from hub.inputs import In, RowId, errors

log = logging.getLogger(__name__)
router = APIRouter(tags=["accounts"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]
Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")]
StoreList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=500)
]


def _grant_refused(reason: str, error: str = "invalid_grant") -> JSONResponse:
    # RFC 6749 §5.2: 400 with an error code; `detail` is the hub's usual reason
    return JSONResponse({"error": error, "detail": reason}, status_code=400)


def _tokens(request: Request, account: accounts.Account, refresh: str) -> dict[str, Any]:
    signer = request.app.state.gate.signer
    return {
        "access_token": signer.issue(accounts.access_claims(account)),
        "token_type": "bearer",
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh,
        "role": account.role,
    }


@router.post("/auth/token", responses={400: {"description": "RFC 6749 error: invalid_grant"}})
def token(
    request: Request,
    grant_type: Annotated[str, Form(max_length=32)],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=200)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str, Form(max_length=200)] = "",
) -> Any:
    """OAuth2 token endpoint: `grant_type=password` with `username` and `password`, or
    `grant_type=refresh_token` with `refresh_token` (spent: the answer carries its successor).
    The access token lasts 15 minutes; send it as `Authorization: Bearer <token>`."""
    database = request.app.state.db
    if grant_type == "password":
        if not username or password is None:
            return _grant_refused("username and password are required", "invalid_request")
        try:
            account = accounts.attempt(database, username, password)
        except accounts.AccountError as refused:
            return _grant_refused(str(refused))
        with database.transaction() as s:
            refresh = accounts.open_session(s, account, "refresh")
        log.info("API sign-in: %s", account.username)
        return _tokens(request, account, refresh)
    if grant_type == "refresh_token":
        if not refresh_token:
            return _grant_refused("refresh_token is required", "invalid_request")
        try:
            account, refresh = accounts.spend_refresh(database, refresh_token)
        except accounts.AccountError as refused:
            return _grant_refused(str(refused))
        return _tokens(request, account, refresh)
    return _grant_refused(f"unsupported grant_type {grant_type!r}", "unsupported_grant_type")


@router.post("/auth/revoke")
def revoke(request: Request, token: Annotated[str, Form(max_length=200)]) -> dict[str, bool]:
    """RFC 7009: revoke a refresh token (an unknown one is not an error)."""
    with request.app.state.db.transaction() as s:
        accounts.revoke(s, token)
    return {"revoked": True}


@router.get("/auth/me")
def me(request: Request) -> dict[str, Any]:
    """Who the credential belongs to: an account (role, stores) or an API key (scopes)."""
    who = request.state.principal
    return {
        "kind": who.kind,
        "id": who.id,
        "name": who.name,
        "role": who.role,
        "stores": sorted(who.stores),
        "scopes": sorted(who.scopes),
    }


class AccountIn(In):
    username: Username
    password: Annotated[str, Field(min_length=8, max_length=200)]
    role: str
    display_name: Annotated[str, Field(max_length=200)] = ""
    stores: StoreList = Field(default_factory=list)


class AccountChange(In):
    role: str | None = None
    display_name: Annotated[str, Field(max_length=200)] | None = None
    disabled: bool | None = None
    stores: StoreList | None = None
    password: Annotated[str, Field(min_length=8, max_length=200)] | None = None


@router.get("/accounts")
def list_accounts(db: Db) -> dict[str, Any]:
    with db.begin():
        return {"accounts": [a.view() for a in accounts.listing(db)]}


@router.post("/accounts", status_code=201)
def create_account(body: AccountIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        view = accounts.create(
            db, body.username, body.password, body.role, body.display_name, body.stores
        ).view()
        audit.record(db, who, "account.create", body.username, None, view)
        return view


@router.get("/accounts/{user_id}")
def get_account(user_id: RowId, db: Db) -> dict[str, Any]:
    with db.begin():
        return accounts.get(db, user_id).view()


@router.patch("/accounts/{user_id}")
def change_account(user_id: RowId, body: AccountChange, db: Db, who: Actor) -> dict[str, Any]:
    """Role, name, stores, disabled, a new password (which also lifts a lock-out). A change of
    role, password or a disabling ends the account's sessions and refresh tokens."""
    with db.begin():
        before = accounts.get(db, user_id).view()
        change = body.model_dump(exclude_unset=True)
        after = accounts.change(db, user_id, **change).view()
        if "password" in change:  # that it changed, never the password
            after = {**after, "password": "changed"}
        audit.record(db, who, "account.change", before["username"], before, after)
        return after
