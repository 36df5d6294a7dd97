"""Where scanners and scales meet the checkout lane over HTTP:

- `GET /api/lanes/{lane}/events`: the lane's scans and weights as server-sent events. A payment
  code appears masked; its full code stays on the in-process lane bus for the payment module.
- `POST /api/lanes/{lane}/weigh` {sku, name, price_per_kg_fen}: reads the lane's scale and
  answers a sale line priced per kg × stable weight, or a clear error. Rounding: grams ×
  price per kg / 1000, half up to the fen (protocols.pricing.weighed), the rule Chinese
  price-computing scales print."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from aiohttp import web
from msgspec import Meta

from edge import http_errors
from edge.devices.base import DeviceError
from edge.lane_bus import CLOSED
from protocols import pricing
from protocols.strict import Invalid, convert

if TYPE_CHECKING:
    from edge.devices.registry import Devices
    from edge.devices.scale import Scale  # the driver loads with the first scale (gateway.py)

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0


class WeighIn(msgspec.Struct, forbid_unknown_fields=True):
    sku: Annotated[str, Meta(min_length=1)]
    name: str
    price_per_kg_fen: Annotated[int, Meta(ge=0)]


def _error(status: int, reason: str, **more: Any) -> web.Response:
    return web.json_response({"error": reason, **more}, status=status)


def for_the_page(event: dict[str, Any]) -> dict[str, Any]:
    """What leaves the process: never a payment code in full."""
    if event.get("type") == "paycode":
        return {k: v for k, v in event.items() if k != "code"}
    return event


def sse_frame(kind: str, data: Any) -> bytes:
    """One server-sent event (the lane's stream and the admin pages' use it)."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream(request: web.Request, lanes: Any, lane: str) -> web.StreamResponse:
    """The lane's events as server-sent events, until the client goes."""
    queue = lanes.subscribe(lane)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    try:
        await response.prepare(request)
        await response.write(b": lane events\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is CLOSED:  # the gateway stops: the page reconnects to the next one
                break
            await response.write(sse_frame(event.get("type", "message"), for_the_page(event)))
    except ConnectionResetError:
        pass
    finally:
        lanes.unsubscribe(lane, queue)
    return response


class NoScale(DeviceError):
    pass


async def read_weight(devices: Any, lane: str) -> tuple[Scale, Any]:
    """The lane's scale and a stable weight it may sell, or DeviceError with the reason
    (NoScale when the lane has none)."""
    scales: list[Scale] = devices.on_lane(lane, "scale")  # devices of kind "scale": Scales
    if not scales:
        raise NoScale(f"lane {lane} has no scale")
    scale = next((s for s in scales if s.state == "online"), scales[0])
    try:
        weight = await scale.stable_weight()
    except DeviceError as err:  # unstable, no answer, …: say which scale
        raise DeviceError(str(err), {"device": scale.spec.id}) from err
    why = scale.sellable(weight)
    if why:
        log.info("lane %s: weight refused: %s", lane, why)
        raise DeviceError(why, {"device": scale.spec.id, "grams": weight.grams})
    return scale, weight


def routes(devices: Devices) -> list[web.RouteDef]:
    """The lane's device routes: its scans and weights as a stream, a weighed item priced."""
    lanes = devices.ctx.lanes

    async def events(request: web.Request) -> web.StreamResponse:
        return await stream(request, lanes, request.match_info["lane"])

    async def weigh(request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        try:
            body = convert(await http_errors.read_object(request), WeighIn)
        except Invalid as err:
            reason = f"{err.loc or 'body'}: {err.msg}"
            log.warning("lane %s weigh: bad request: %s", lane, reason)
            return _error(400, reason)
        try:
            scale, weight = await read_weight(devices, lane)
        except NoScale as err:
            return _error(404, str(err))
        except DeviceError as err:
            log.warning("lane %s weigh %s: %s", lane, body.sku, err)
            return _error(409, str(err), **err.args[1] if len(err.args) > 1 else {})
        grams = weight.grams
        line = {
            "sku": body.sku,
            "name": body.name,
            "qty_milli": grams,
            "unit_price_fen": body.price_per_kg_fen,
            "discount_fen": 0,
            "total_fen": pricing.weighed(grams, body.price_per_kg_fen),
            "weighed": True,
        }
        lanes.publish(lane, {"type": "weighed", "device": scale.spec.id, "line": line})
        return web.json_response({"line": line, "device": scale.spec.id, "net": weight.net})

    return [
        web.get("/api/lanes/{lane}/events", events),
        web.post("/api/lanes/{lane}/weigh", weigh),
    ]
