"""Online calls from the lanes to the hub over the uplink's one MQTT connection
(protocols/rpc.py): a request with a correlation id on the gateway's request topic, the answer
matched by that id on its reply topic, a deadline after which the lane stops waiting (and the
hub would drop the request). The lane-facing routes:

GET  /api/members/lookup?phone=… | card_no=… | member_id=…
POST /api/members                               register at the till
POST /api/coupons/check                         {code, member_id, lines, other_codes}
POST /api/lanes/{lane}/points/reserve           {member_id, points, reservation_id?}
POST /api/lanes/{lane}/points/{rid}/commit      {sale_id?}
POST /api/lanes/{lane}/points/{rid}/release

Reserve before taking points as a tender and put the reservation id in the sale
(`points_reservation`): the hub spends it when the sale arrives even if the commit call is
lost, and exactly once."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import web

from edge import http_errors
from edge.uplink import Uplink
from protocols import rpc
from protocols.envelope import iso
from transport.ids import new_id

log = logging.getLogger(__name__)


class HubCallError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class HubCalls:
    def __init__(self, uplink: Uplink, timeout_s: float | None = None) -> None:
        self.uplink = uplink
        # how long a lane waits for the hub (a store on a slow uplink may want longer)
        self.timeout_s = timeout_s or float(os.environ.get("STOREGW_HUB_CALL_TIMEOUT_S", "5"))
        self.pending: dict[str, asyncio.Future[rpc.Reply]] = {}
        self.calls = 0
        self.timeouts = 0
        uplink.subscribe(rpc.reply_topic(uplink.store, uplink.gateway), self.on_reply)

    def on_reply(self, topic: str, payload: bytes) -> None:
        try:
            reply = rpc.parse_reply(payload)
        except rpc.Invalid as err:
            log.error("unreadable RPC reply ignored: %s", err)
            return
        fut = self.pending.pop(reply.id, None)
        if fut is None:
            log.info("late or duplicate RPC reply %s ignored", reply.id)
        elif not fut.done():
            fut.set_result(reply)

    async def call(
        self,
        method: str,
        params: dict[str, Any],
        lane: str | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """The hub's result, or HubCallError (hub's refusal with its status, 503 when not
        connected, 504 when no answer in time)."""
        if not self.uplink.connected or self.uplink.link is None:
            raise HubCallError(503, "no connection to the hub: online loyalty is unavailable")
        timeout = timeout_s or self.timeout_s
        corr = new_id()
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        req = rpc.Request(id=corr, method=method, params=params, deadline=deadline, lane=lane)
        fut: asyncio.Future[rpc.Reply] = asyncio.get_running_loop().create_future()
        self.pending[corr] = fut
        self.calls += 1
        body = {**msgspec.to_builtins(req), "deadline": iso(deadline)}
        self.uplink.publish(
            rpc.request_topic(self.uplink.store, self.uplink.gateway),
            json.dumps(body, ensure_ascii=False).encode(),
            qos=1,
        )
        try:
            reply = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self.pending.pop(corr, None)
            self.timeouts += 1
            log.warning("hub did not answer %s within %.1f s", method, timeout)
            raise HubCallError(504, f"the hub did not answer within {timeout:g} s") from None
        if not reply.ok:
            raise HubCallError(reply.status, reply.error or "refused by the hub")
        return reply.result or {}

    # --- lane routes -----------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/members/lookup", self.lookup),
            web.post("/api/members", self.register),
            web.post("/api/coupons/check", self.coupon_check),
            web.post("/api/lanes/{lane}/points/reserve", self.reserve),
            web.post("/api/lanes/{lane}/points/{rid}/commit", self.commit),
            web.post("/api/lanes/{lane}/points/{rid}/release", self.release),
        ]

    async def _answer(
        self, method: str, params: dict[str, Any], lane: str | None = None, status: int = 200
    ) -> web.Response:
        try:
            rpc.check_params(method, params)  # refuse bad input here, without a round trip
        except rpc.Invalid as err:
            reason = f"{err.loc or 'body'}: {err.msg}"
            log.warning("lane %s: %s refused: %s", lane, method, reason)
            return web.json_response({"error": reason}, status=400)
        try:
            result = await self.call(method, params, lane)
        except HubCallError as err:
            return web.json_response({"error": err.reason}, status=err.status)
        return web.json_response(result, status=status)

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        return await http_errors.read_object(request)

    async def lookup(self, request: web.Request) -> web.Response:
        q = {k: v for k, v in request.query.items() if k in ("phone", "card_no", "member_id")}
        return await self._answer("member.lookup", q)

    async def register(self, request: web.Request) -> web.Response:
        return await self._answer("member.register", await self._json(request), status=201)

    async def coupon_check(self, request: web.Request) -> web.Response:
        return await self._answer("coupon.check", await self._json(request))

    async def reserve(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        body.setdefault("reservation_id", new_id())  # retry with this id: the same hold
        return await self._answer("points.reserve", body, request.match_info["lane"], 201)

    async def commit(self, request: web.Request) -> web.Response:
        body = await http_errors.read_object(request, empty={})
        params = {"reservation_id": request.match_info["rid"], **body}
        return await self._answer("points.commit", params, request.match_info["lane"])

    async def release(self, request: web.Request) -> web.Response:
        params = {"reservation_id": request.match_info["rid"]}
        return await self._answer("points.release", params, request.match_info["lane"])

    def stats(self) -> dict[str, Any]:
        return {"calls": self.calls, "timeouts": self.timeouts, "waiting": len(self.pending)}
