"""Bearer tokens for the gateway's API (and the hub's first HQ token): from the environment, or
generated once and kept in a 0600 file in the data dir — never in the repo."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web


def load_or_create(data_dir: Path, env_var: str, filename: str) -> str:
    token = os.environ.get(env_var)
    if token:
        return token
    path = data_dir / filename
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: a reader never sees half a token
    return token


def bearer_ok(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


def middleware(token: str, open_paths: frozenset[str] = frozenset({"/health"})) -> Callable:
    @web.middleware
    async def require_token(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in open_paths or bearer_ok(request.headers.get("Authorization"), token):
            return await handler(request)
        return web.json_response(
            {"error": "missing or wrong bearer token"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    return require_token
