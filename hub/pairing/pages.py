"""The console's pairing page: HQ enters the code a gateway shows (the same service call as
`POST /api/pairing`), and sees the gateways still waiting."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlalchemy.orm import Session

from hub.accounts.service import Account
from hub.console.web import BASE, check_csrf, page_user, render
from hub.deps import session
from hub.http_errors import status_of
from hub.pairing.service import Refused

log = logging.getLogger(__name__)
pages = APIRouter(prefix=BASE, include_in_schema=False)
Db = Annotated[Session, Depends(session)]
_User = Annotated[Account, Depends(page_user("/console/pairing"))]


def _page(request: Request, db: Session, status_code: int = 200, **context: object) -> Response:
    pending = request.app.state.pairing.pending(db)
    return render(request, "pairing.html", status_code=status_code, pending=pending, **context)


@pages.get("/pairing")
def pairing_page(request: Request, db: Db, account: _User) -> Response:
    return _page(request, db)


@pages.post("/pairing")
def approve(
    request: Request,
    db: Db,
    account: _User,
    csrf: Annotated[str, Form()],
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    check_csrf(request, csrf)
    try:
        done = request.app.state.pairing.approve(db, code, None, None, account.username)
    except Refused as err:
        log.warning("console pairing refused for %s: %s", account.username, err)
        return _page(request, db, status_of(err) or 422, error=str(err), code=code)
    return _page(request, db, done=done)
