"""What routers get from the running hub: a database session per request, the token check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

# declares the bearer scheme on every /api operation of the OpenAPI (so /docs' "Try it out"
# sends it); the check itself is Tokens.check's, refusals answered by hub/http_errors.py
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="an HQ token: STOREGW_HUB_TOKEN or <data dir>/admin-token",
)


def session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessions() as s:
        yield s


async def require_token(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    # async: a set look-up on the event loop, no thread hop for the hot read routes
    request.app.state.tokens.check(request.headers.get("authorization", ""))
