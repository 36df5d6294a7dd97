"""The console's own pages: sign-in and out, the language switch, home, accounts (hq_admin).
Other contexts add pages beside theirs (docs/console.md)."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.accounts.roles import ROLES
from hub.audit import service as audit
from hub.console import home, i18n
from hub.console.web import (
    BASE,
    CSRF_COOKIE,
    SESSION_COOKIE,
    PageRefused,
    check_csrf,
    current_account,
    page_user,
    refused_page,
    render,
    set_cookie,
)
from hub.deps import session
from hub.http_errors import integrity
from hub.members.overview import today

log = logging.getLogger(__name__)
router = APIRouter(prefix=BASE, include_in_schema=False)
Db = Annotated[Session, Depends(session)]
Csrf = Annotated[str, Form()]


def install(app: FastAPI) -> None:
    """At create_app: the pages and their static files (the vendored ECharts among them)."""
    static = Path(__file__).parent / "static"
    app.mount(f"{BASE}/static", StaticFiles(directory=static), name="console-static")
    app.include_router(router)
    app.add_exception_handler(PageRefused, refused_page)


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/login")
def login_page(request: Request, db: Db) -> Response:
    if current_account(request, db) is not None:
        return _see_other(f"{BASE}/")
    return render(request, "login.html")


@router.post("/login")
def login(
    request: Request,
    csrf: Csrf,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    check_csrf(request, csrf)
    try:
        account = accounts.attempt(request.app.state.db, username, password)
    except accounts.AccountError as refused:
        t = i18n.translator(i18n.pick(request.cookies.get(i18n.COOKIE)))
        reason = t("login.locked") if "try again later" in str(refused) else t("login.wrong")
        return render(request, "login.html", status_code=401, error=reason, username=username)
    with request.app.state.db.transaction() as s:
        token = accounts.open_session(s, account, "console")
    log.info("console sign-in: %s", account.username)
    response = _see_other(f"{BASE}/")
    set_cookie(request, response, SESSION_COOKIE, token)
    set_cookie(request, response, CSRF_COOKIE, secrets.token_urlsafe(24))  # a new seed
    return response


@router.post("/logout")
def logout(request: Request, csrf: Csrf, db: Db) -> Response:
    check_csrf(request, csrf)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with db.begin():
            accounts.revoke(db, token)
    response = _see_other(f"{BASE}/login")
    response.delete_cookie(SESSION_COOKIE, path=BASE)
    return response


@router.post("/lang")
def switch_language(
    request: Request, csrf: Csrf, lang: Annotated[str, Form()], back: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    # back only ever to a console page (no open redirect)
    target = back if back.startswith(f"{BASE}/") and "//" not in back else f"{BASE}/"
    response = _see_other(target)
    response.set_cookie(
        i18n.COOKIE, i18n.pick(lang), max_age=365 * 86400, samesite="strict", path=BASE
    )
    return response


@router.get("/")
def home_page(
    request: Request, db: Db, account: Annotated[accounts.Account, Depends(page_user("/console/"))]
) -> Response:
    with db.begin():
        figures = home.figures(db, account, today(db))
    return render(request, "home.html", figures=figures, chart=json.dumps(figures))


_Admin = Annotated[accounts.Account, Depends(page_user("/console/accounts"))]


@router.get("/accounts")
def accounts_page(request: Request, db: Db, account: _Admin) -> Response:
    with db.begin():
        listing = accounts.listing(db)
    return render(request, "accounts.html", accounts=listing, roles=ROLES)


def _stores(text: str) -> list[str]:
    return [s for s in text.replace(",", " ").split() if s]


@router.post("/accounts")
def create_account(
    request: Request,
    db: Db,
    account: _Admin,
    csrf: Csrf,
    username: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")],
    password: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form()],
    display_name: Annotated[str, Form(max_length=200)] = "",
    stores: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        with db.begin():
            made = accounts.create(db, username, password, role, display_name, _stores(stores))
            audit.record(db, account.principal(), "account.create", username, None, made.view())
    except accounts.AccountError as refused:
        return _accounts_refused(request, db, str(refused))
    except IntegrityError as err:
        return _accounts_refused(request, db, integrity(err)[1])
    log.info("console: %s created account %s", account.username, username)
    return _see_other(f"{BASE}/accounts")


@router.post("/accounts/{user_id}")
def change_account(
    request: Request,
    db: Db,
    account: _Admin,
    user_id: int,
    csrf: Csrf,
    role: Annotated[str, Form()],
    stores: Annotated[str, Form(max_length=2000)] = "",
    disabled: Annotated[bool, Form()] = False,
) -> Response:
    check_csrf(request, csrf)
    if user_id == account.id and (disabled or role != account.role):
        return _accounts_refused(request, db, "you cannot disable yourself or change your role")
    try:
        with db.begin():
            before = accounts.get(db, user_id).view()
            after = accounts.change(
                db, user_id, role=role, disabled=disabled, stores=_stores(stores)
            )
            audit.record(
                db, account.principal(), "account.change", before["username"], before, after.view()
            )
    except accounts.AccountError as refused:
        if isinstance(refused, accounts.AccountNotFound):
            raise PageRefused(404, "error.not_found", str(refused)) from None
        return _accounts_refused(request, db, str(refused))
    except IntegrityError as err:
        return _accounts_refused(request, db, integrity(err)[1])
    log.info("console: %s changed account %d", account.username, user_id)
    return _see_other(f"{BASE}/accounts")


def _accounts_refused(request: Request, db: Session, reason: str) -> Response:
    log.warning("console accounts: refused: %s", reason)
    with db.begin():
        listing = accounts.listing(db)
    return render(
        request, "accounts.html", status_code=422, accounts=listing, roles=ROLES, error=reason
    )
