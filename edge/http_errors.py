"""The gateway's HTTP error contract: every answer that is not a success is JSON
`{"error": "<reason>", ...}` — the lane's own refusals, aiohttp's 404/405/413, a body that is not
JSON, and the 500 of a bug — and every route reads its body through `read_json`, so a body
nested 200,000 deep or with invalid UTF-8 is a 400 everywhere, never a 500.

Path ids are checked here once for all routes: a lane id outside `LANE_ID` is refused before any
handler (it ends up in receipt numbers, journal counters and the hub's rows)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

log = logging.getLogger(__name__)

LANE_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, reason: str, **more: Any) -> web.Response:
    return web.json_response({"error": reason, **more}, status=status)


def bad_request(reason: str) -> web.HTTPBadRequest:
    """An exception to raise from deep inside a handler; the answer is JSON."""
    return web.HTTPBadRequest(
        text=msgspec.json.encode({"error": reason}).decode(), content_type="application/json"
    )


async def read_json(request: web.Request, type_: type[T] | Any = Any, *, empty: Any = None) -> T:
    """The body decoded (and validated when `type_` is a msgspec type), or a JSON 400 saying why.
    `empty` is what an absent body means (None: a body is required)."""
    raw = await request.read()  # over client_max_size: aiohttp's 413, made JSON by middleware
    if not raw.strip() and empty is not None:
        return empty  # type: ignore[no-any-return]
    try:
        return msgspec.json.decode(raw, type=type_)  # type: ignore[no-any-return]
    except msgspec.ValidationError as err:
        reason = str(err)
    except msgspec.DecodeError:
        reason = "body is not JSON"
    except UnicodeDecodeError:
        reason = "body is not valid UTF-8"
    except RecursionError:
        reason = "body is nested too deeply"
    log.warning("%s %s: refused the body: %s", request.method, request.path, reason)
    raise bad_request(reason)


async def read_object(
    request: web.Request, *, empty: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A body that must be a JSON object (routes validating with protocols.strict next)."""
    body = await read_json(request, empty=empty)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    lane = request.match_info.get("lane")
    if lane is not None and not LANE_ID.match(lane):
        log.warning("%s %s: refused lane id %r", request.method, request.path, lane)
        return error(400, f"lane id must match {LANE_ID.pattern}")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        reason = exc.reason if exc.text == f"{exc.status}: {exc.reason}" else exc.text
        if exc.status >= 500:
            log.error("%s %s: %s %s", request.method, request.path, exc.status, reason)
        headers = {
            k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")
        }
        return web.json_response({"error": reason}, status=exc.status, headers=headers)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal error (logged at the gateway)")
