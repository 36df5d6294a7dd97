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
    own_auth: tuple[str, ...] = (),  # path prefixes that authenticate by themselves (/admin/)
) -> Callable:
    @web.middleware
    async def require_token(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if (
            path in open_paths
            or (own_auth and path.startswith(own_auth))
            or bearer_ok(request.headers.get("Authorization"), token)
        ):
            return await handler(request)
        return web.json_response(
            {"error": "missing or wrong bearer token"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    return require_token
