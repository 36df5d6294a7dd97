"""The gateway API's bearer-token check (aiohttp middleware); the token file itself is in
transport/token_file.py, which the hub uses too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from transport.token_file import bearer_ok, load_or_create

__all__ = ["bearer_ok", "load_or_create", "middleware"]


def middleware(
    token: str,
    open_paths: frozenset[str] = frozenset({"/health"}),
    own_auth: tuple[str, ...] = (),
) -> Callable:
    """The bearer token for everything but `open_paths` and the path prefixes in `own_auth`
    (pages with their own authentication: edge/pages)."""

    @web.middleware
    async def require_token(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if (
            request.path in open_paths
            or request.path.startswith(own_auth)
            or bearer_ok(request.headers.get("Authorization"), token)
        ):
            return await handler(request)
        return web.json_response(
            {"error": "missing or wrong bearer token"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    return require_token
