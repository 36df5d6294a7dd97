"""What routers get from the running hub: a database session per request, the access check."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hub.auth.principal import Principal


def session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessions() as s:
        yield s


async def authorize(request: Request) -> None:
    """Every /api route's check: the credential, then the route's row in hub/auth/policy.py.
    Async: a signature or a cached key look-up on the event loop, no thread hop per request;
    the keys' periodic reload goes to a thread (a busy database waits there, not the loop)."""
    gate = request.app.state.gate
    if gate.tokens.stale():
        await asyncio.to_thread(gate.tokens.refresh)
    gate.authorize(request)


def principal(request: Request) -> Principal | None:
    """Who the gate let in (None on a public route): the actor an audit entry names."""
    return getattr(request.state, "principal", None)


Actor = Annotated[Principal | None, Depends(principal)]
