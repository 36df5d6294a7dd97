"""The hub's error answers, in one place. Each context raises its own domain errors, which
know nothing of HTTP; `STATUS` says which status each class answers (the most specific class
wins), for the API and for the lanes' RPC replies alike. What the database refuses becomes a
4xx with the reason, never a 500: a unique violation is a conflict (409: the rank, code or id
is taken); a foreign key, check or NOT NULL violation, or a value the column cannot hold, is
invalid input (422). The answer is FastAPI's shape, `{"detail": "<reason>"}`
(docs/architecture.md)."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.accounts.service import AccountError, AccountNotFound, RefreshRefused, SignInRefused
from hub.analytics.common import Refused as AnalyticsRefused
from hub.analytics.interactions import InteractionError
from hub.analytics.rules import RuleError
from hub.analytics.segments import SegmentError
from hub.auth.service import KeyNotFound, KeyRefused
from hub.coupons.holds import NotYourHold
from hub.coupons.service import CouponError, CouponNotFound, CouponRequestInvalid
from hub.jobs.scheduler import NoSuchJob
from hub.loyalty.service import NotFound, PointsError
from hub.loyalty.views import UnknownCursor
from hub.mall.service import MallError, MallNotFound
from hub.members.service import MemberError, MemberNotFound
from hub.pairing.service import (
    CertificateRefused,
    PairingConflict,
    PairingNotFound,
    Refused,
    TooManyRequests,
)
from hub.sales.refunds import RefundError, RefundInvalid, SaleNotHere
from hub.stock.ledger import StockError, StockInvalid, StockNotFound
from hub.stores.service import StoreNotFound
from hub.tiers.service import TierError

log = logging.getLogger(__name__)

# domain error → HTTP status; a subclass not listed answers as its nearest listed base.
# A new context adds its errors here (one line each).
STATUS: dict[type[Exception], int] = {
    MemberError: 422,
    MemberNotFound: 404,
    PointsError: 409,
    NotFound: 404,
    UnknownCursor: 422,
    CouponError: 409,
    CouponNotFound: 404,
    CouponRequestInvalid: 422,
    NotYourHold: 403,
    RefundError: 409,
    SaleNotHere: 404,
    RefundInvalid: 422,
    TierError: 422,
    MallError: 409,
    MallNotFound: 404,
    NoSuchJob: 404,
    StoreNotFound: 404,
    StockError: 409,
    StockNotFound: 404,
    StockInvalid: 422,
    AccountError: 422,
    AccountNotFound: 404,
    SignInRefused: 401,
    RefreshRefused: 400,
    KeyRefused: 409,
    KeyNotFound: 404,
    Refused: 422,
    PairingNotFound: 404,
    PairingConflict: 409,
    CertificateRefused: 403,
    TooManyRequests: 429,
    RuleError: 422,
    AnalyticsRefused: 422,
    SegmentError: 404,
    InteractionError: 404,
}


def status_of(err: BaseException) -> int | None:
    """The status a domain error answers, or None when it is no domain error (a bug: 500)."""
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return None


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    assert status is not None  # installed for STATUS's classes only
    log.warning("refused %s %s: %s", request.method, request.url.path, exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


# SQLSTATE → (status, what it means to the caller)
_PG = {
    "23505": (409, "already taken"),
    "23503": (422, "refers to something that does not exist, or is still referred to"),
    "23514": (422, "breaks a rule of the data"),
    "23502": (422, "a required value is missing"),
}
_SQLITE = {
    "UNIQUE": _PG["23505"],
    "FOREIGN KEY": _PG["23503"],
    "CHECK": _PG["23514"],
    "NOT NULL": _PG["23502"],
}


def integrity(err: IntegrityError) -> tuple[int, str]:
    orig = err.orig
    state = getattr(orig, "sqlstate", None)
    if state in _PG:
        status, what = _PG[state]
        diag = getattr(orig, "diag", None)
        detail = getattr(diag, "message_detail", None) or getattr(diag, "constraint_name", "")
        return status, f"{what}: {detail}" if detail else what
    text = str(orig)
    for key, (status, what) in _SQLITE.items():
        if text.startswith(key):
            return status, f"{what}: {text}"
    return 409, f"refused by the database: {text}"


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    status, reason = integrity(exc)
    log.warning("refused %s %s: %s", request.method, request.url.path, reason)
    return JSONResponse({"detail": reason}, status_code=status)


async def _data(request: Request, exc: Exception) -> JSONResponse:
    orig = getattr(exc, "orig", exc)
    reason = f"a value does not fit its column: {str(orig).splitlines()[0]}"
    log.warning("refused %s %s: %s", request.method, request.url.path, reason)
    return JSONResponse({"detail": reason}, status_code=422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette's Allow names only the first route on the path; list every method served
        headers["Allow"] = ", ".join(_methods(request.app, request.url.path))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def _routes(app: FastAPI) -> list[tuple[int, re.Pattern[str], str, dict[str, Any]]]:
    """The OpenAPI's path templates as (parameter count, regex, template, operations), built
    once per app."""
    table = getattr(app.state, "route_templates", None)
    if table is None:
        table = [
            (
                p.count("{"),
                re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(p)) + "$"),
                p,
                ops,
            )
            for p, ops in app.openapi()["paths"].items()
        ]
        app.state.route_templates = table
    return table


def _methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI lists for `path`: those of its most specific template (fewest
    parameters, so /api/tiers/changes is that path's and not /api/tiers/{code}'s)."""
    matches = [(n, ops) for n, rx, _, ops in _routes(app) if rx.match(path)]
    fewest = min((n for n, _ in matches), default=0)
    return sorted({m.upper() for n, ops in matches if n == fewest for m in ops})


def template(app: FastAPI, method: str, path: str) -> str | None:
    """The OpenAPI path template `method path` was routed by (the most specific one serving
    the method), e.g. /api/stores/{store_id} for GET /api/stores/sh1."""
    method = method.lower()
    best = min(
        ((n, t) for n, rx, t, ops in _routes(app) if method in ops and rx.match(path)),
        default=None,
    )
    return best[1] if best else None


def install(app: FastAPI) -> None:
    for cls in STATUS:
        app.add_exception_handler(cls, _refused)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(StarletteHTTPException, _http)
