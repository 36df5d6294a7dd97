"""What routers get from the running hub: a database session per request, the access check."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session


def session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessions() as s:
        yield s


def authorize(request: Request) -> None:
    """Every /api route's check: the credential, then the route's row in hub/auth/policy.py."""
    request.app.state.gate.authorize(request)
