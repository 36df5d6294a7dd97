"""What every console page needs: the signed-in account from the session cookie, the CSRF
token of its forms, the language, the menu, and `render()` putting them into the template.

The session cookie holds a random token whose hash is an `auth_sessions` row (kind
"console"): HttpOnly, SameSite=Strict, path /console. Every form carries a CSRF token, the
HMAC of a per-browser random cookie (`storegw_csrf`, renewed at sign-in) under the hub's key:
a page of another site can neither read the cookie nor compute the token."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.accounts.roles import HQ_ADMIN
from hub.console import i18n, nav
from hub.deps import session

log = logging.getLogger(__name__)

SESSION_COOKIE = "storegw_session"
CSRF_COOKIE = "storegw_csrf"
BASE = "/console"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=BASE,
        **kw,
    )


def csrf_seed(request: Request) -> str:
    """This browser's CSRF seed: its cookie, or a new one render() will set."""
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not seed:
        seed = request.state.new_csrf = secrets.token_urlsafe(24)
    return seed


def csrf_token(request: Request) -> str:
    return request.app.state.gate.signer.mac("csrf", csrf_seed(request))


class PageRefused(Exception):
    """A console request refused: answered with the error page (HTML, in the reader's
    language), not the API's JSON. `message` is a catalog key."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.message = status, message


def check_csrf(request: Request, token: str | None) -> None:
    seed = request.cookies.get(CSRF_COOKIE)
    expected = request.app.state.gate.signer.mac("csrf", seed) if seed else ""
    if not seed or not token or not hmac.compare_digest(token, expected):
        log.warning("refused %s %s: missing or wrong CSRF token", request.method, request.url.path)
        raise PageRefused(403, "error.csrf", "missing or wrong CSRF token")


async def refused_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    return render(request, "error.html", status_code=exc.status, message=exc.message)


def lang(request: Request) -> str:
    return i18n.pick(request.cookies.get(i18n.COOKIE))


def current_account(request: Request, db: Session) -> accounts.Account | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with db.begin():
        return accounts.session_account(db, token, "console")


def page_user(path: str) -> Callable[..., accounts.Account]:
    """The dependency of the page at `path` (listed in hub/console/nav.py): the signed-in
    account, if its role may see the page; else to the sign-in page, or a 403."""
    entry = nav.page(path)

    def dependency(request: Request, db: Annotated[Session, Depends(session)]) -> accounts.Account:
        account = current_account(request, db)
        if account is None:
            raise HTTPException(303, "sign in first", headers={"Location": f"{BASE}/login"})
        if account.role != HQ_ADMIN and account.role not in entry.roles:
            log.warning("refused %s to %s (%s)", path, account.username, account.role)
            request.state.account = account  # the error page keeps their menu
            raise PageRefused(403, "error.forbidden", f"the role {account.role} may not")
        request.state.account = account
        return account

    return dependency


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    account: accounts.Account | None = getattr(request.state, "account", None)
    language = lang(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": i18n.translator(language),
            "lang": language,
            "langs": i18n.LANGS,
            "account": account,
            "menu": nav.menu(account.role) if account else [],
            "csrf": csrf_token(request),
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
    new = getattr(request.state, "new_csrf", None)
    if new:
        set_cookie(request, response, CSRF_COOKIE, new)
    return response
