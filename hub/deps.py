"""What routers get from the running hub: a database session per request, the ingest worker."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session


def session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessions() as s:
        yield s


def require_token(request: Request) -> None:
    request.app.state.tokens.check(request)
