"""HTTP for baskets and the shop-floor pages.

- `/api/lanes/{lane}/basket…` (the gateway's bearer token): the basket API for any lane app;
- `/lane/{lane}/…` (a screen paired with that lane, cookie): the cashier page and the same
  basket calls; `/order/…` (a paired staff phone): the staff order page, its own basket,
  item look-up, and "send to lane";
- `/api/lanes/{lane}/pairing`, `/api/pairing/staff`, `/api/paired` (bearer): a manager pairs.

Cookie calls other than GET must carry `X-Storegw: 1` (a custom header: another site's page
cannot send it without a CORS preflight the gateway never grants) besides the SameSite=Strict
cookie."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge import http_errors
from edge.basket import BasketError, Baskets
from edge.declared_lanes import UnknownLane
from edge.devices.lanes_io import stream
from edge.members_cache import MemberNotFound
from edge.pages import GUARDED, assets, i18n
from edge.pages.pairing import COOKIE, STAFF, Pairing

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSP = assets.csp([], [])  # a page without inline assets
OWNER = web.RequestKey("owner", str)  # a staff phone's basket owner, set by the guard
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


class Pages:
    def __init__(self, baskets: Baskets, pairing: Pairing, devices: Any) -> None:
        self.baskets, self.pairing, self.devices = baskets, pairing, devices

    @cached_property
    def env(self) -> jinja2.Environment:
        import jinja2  # at the first page, not at start (as the admin pages: edge/admin/pages.py)

        return jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
        )

    # --- the guard -------------------------------------------------------------------------
    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not path.startswith(GUARDED) or path in ("/lane/", "/lane/pair"):
            return await handler(request)
        paired = self.pairing.lane_of(request)
        if path.startswith("/order/"):
            ok = paired is not None and paired[1] == STAFF
            if ok:
                request[OWNER] = f"{STAFF}{paired[0]}"
        else:
            ok = paired is not None and path.startswith(f"/lane/{paired[1]}/")
        if not ok:
            log.warning("%s %s: no paired screen for it", request.method, path)
            if request.method == "GET" and not path.endswith(("/events", "/basket")):
                raise web.HTTPFound("/lane/")
            return _error(403, "this screen is not paired with this lane: ask a manager")
        if request.method not in ("GET", "HEAD") and request.headers.get("X-Storegw") != "1":
            return _error(403, "missing X-Storegw header (cross-site request refused)")
        return await handler(request)

    # --- basket calls (bearer and cookie alike) --------------------------------------------
    @staticmethod
    def owner(request: web.Request) -> str:
        return request.get(OWNER) or request.match_info["lane"]

    async def _answer(self, fn: Awaitable[Any]) -> web.Response:
        try:
            return web.json_response(await fn)
        except BasketError as err:  # `why`: the page's own words for it, if it has them
            return web.json_response({"error": err.reason, "why": err.why}, status=err.status)
        except MemberNotFound as err:
            return _error(err.status, err.reason)
        except UnknownLane as err:
            return _error(404, str(err))

    async def get_basket(self, request: web.Request) -> web.Response:
        return await self._answer(self.baskets.get(self.owner(request)))

    async def scan(self, request: web.Request) -> web.Response:
        body = await http_errors.read_object(request)
        code = body.get("code")
        if not isinstance(code, str) or not 0 < len(code) <= 200 or not code.isprintable():
            return _error(400, "code: the barcode, label code or PLU, 1-200 characters")
        return await self._answer(self.baskets.scan(self.owner(request), code))

    async def line(self, request: web.Request) -> web.Response:
        try:
            no = int(request.match_info["no"])
        except ValueError:
            return _error(400, "line number must be an integer")
        if request.method == "DELETE":
            return await self._answer(self.baskets.void(self.owner(request), no))
        body = await http_errors.read_object(request)
        qty = body.get("qty_milli")
        if type(qty) is not int:
            return _error(400, "qty_milli must be an integer (1000 = one piece)")
        return await self._answer(self.baskets.set_qty(self.owner(request), no, qty))

    async def member(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            return await self._answer(self.baskets.forget_member(self.owner(request)))
        body = await http_errors.read_object(request)
        query = {k: v for k, v in body.items() if k in ("phone", "card_no", "qr") and v}
        if not all(isinstance(v, str) and len(v) <= 64 for v in query.values()):
            return _error(400, "phone, card_no or qr: a string of up to 64 characters")
        return await self._answer(self.baskets.identify(self.owner(request), query))

    async def suspend(self, request: web.Request) -> web.Response:
        body = await http_errors.read_object(request, empty={})
        label, to = body.get("label", ""), body.get("to_lane")
        if not isinstance(label, str) or (to is not None and not isinstance(to, str)):
            return _error(400, "label and to_lane must be strings")
        owner = self.owner(request)
        if owner.startswith(STAFF) and not to:
            return _error(400, "to_lane: which lane pays for it")
        if to is not None and not http_errors.LANE_ID.match(to):
            return _error(400, f"to_lane must match {http_errors.LANE_ID.pattern}")
        return await self._answer(self.baskets.suspend(owner, label, to))

    async def resume(self, request: web.Request) -> web.Response:
        basket = request.match_info["basket"]
        return await self._answer(self.baskets.resume(self.owner(request), basket))

    async def pay(self, request: web.Request) -> web.Response:
        body = await http_errors.read_object(request)
        return await self._answer(self.baskets.tenders.pay(self.owner(request), body))

    async def redeem(self, request: web.Request) -> web.Response:
        body = await http_errors.read_object(request)
        return await self._answer(
            self.baskets.tenders.redeem(self.owner(request), body.get("points"))
        )

    async def void_payments(self, request: web.Request) -> web.Response:
        return await self._answer(self.baskets.tenders.void_payments(self.owner(request)))

    async def coupon(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            code = request.match_info["code"]
            return await self._answer(self.baskets.coupons.remove(self.owner(request), code))
        body = await http_errors.read_object(request)
        return await self._answer(self.baskets.coupons.add(self.owner(request), body.get("code")))

    async def override(self, request: web.Request) -> web.Response:
        body = await http_errors.read_object(request)
        who, password = body.get("username"), body.get("password")
        return await self._answer(self.baskets.override.grant(self.owner(request), who, password))

    # --- pages -----------------------------------------------------------------------------
    def render(self, request: web.Request, name: str, **ctx: Any) -> web.Response:
        lang = i18n.pick(request)
        html = self.env.get_template(name).render(
            t=i18n.CATALOG[lang].get, lang=lang, strings=i18n.CATALOG[lang], **ctx
        )
        # one response: the page's own styles and scripts inside it (edge/pages/assets.py)
        html, scripts, styles = assets.inline(html)
        resp = web.Response(text=html, content_type="text/html")
        if len(html) > 1024:
            resp.enable_compression()  # gzip/deflate/br as the browser accepts
        resp.headers.update(
            {
                "Content-Security-Policy": assets.csp(scripts, styles),
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            }
        )
        if request.query.get("lang") in i18n.CATALOG:
            resp.set_cookie("lang", lang, max_age=31536000, samesite="Strict", path="/")
        return resp

    async def home(self, request: web.Request) -> web.StreamResponse:
        paired = self.pairing.lane_of(request)
        if paired is not None:
            raise web.HTTPFound("/order/" if paired[1] == STAFF else f"/lane/{paired[1]}/")
        return self.render(request, "pair.html", error=None)

    async def pair(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        code = str(form.get("code", ""))
        got = self.pairing.pair(code) if code.strip().isdigit() else None
        if got is None:
            log.warning("pairing refused: wrong or expired code")
            resp = self.render(request, "pair.html", error="pair_refused")
            resp.set_status(403)
            return resp
        token, lane = got
        to = "/order/" if lane == STAFF else f"/lane/{lane}/"
        resp = web.HTTPFound(to)
        resp.set_cookie(
            COOKIE, token, max_age=10 * 365 * 86400, httponly=True, samesite="Strict", path="/"
        )
        raise resp

    async def cashier(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        # the basket comes with the page: its total shows without another round trip
        try:
            basket: dict[str, Any] | None = await self.baskets.get(lane)
        except (BasketError, UnknownLane) as err:
            log.warning("lane %s page without its basket: %s", lane, err)
            basket = None
        return self.render(request, "cashier.html", lane=lane, api=f"/lane/{lane}", basket=basket)

    async def order(self, request: web.Request) -> web.Response:
        lanes = [x["id"] for x in self.baskets.lanes.declared.all()]
        return self.render(request, "order.html", lanes=lanes, api="/order")

    async def events(self, request: web.Request) -> web.StreamResponse:
        return await stream(request, self.baskets.bus, self.owner(request))

    async def lane_state(self, request: web.Request) -> web.Response:
        """The lane's devices and the hub link, for the page's status bar."""
        lane = request.match_info["lane"]
        devices = [
            {k: d.describe().get(k) for k in ("id", "kind", "state", "error")}
            | {"status": getattr(getattr(d, "printer_status", None), "problems", lambda: [])()}
            for d in self.devices.by_id.values()
            if d.spec.lane == lane
        ]
        online = self.baskets.members.online()
        return web.json_response({"lane": lane, "hub_online": online, "devices": devices})

    async def items(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "")
        if not 0 < len(q) <= 64:
            return _error(400, "q: 1-64 characters")
        found = self.baskets.catalog.search(q)
        keys = ("sku", "name", "price_fen", "unit", "category")
        return web.json_response({"items": [{k: it.get(k) for k in keys} for it in found]})

    # --- manager ---------------------------------------------------------------------------
    async def new_code(self, request: web.Request) -> web.Response:
        lane = request.match_info.get("lane")
        if lane is not None and not self.baskets.lanes.declared.known(lane):
            return _error(404, str(UnknownLane(lane)))
        code = self.pairing.new_code(lane or STAFF)
        return web.json_response({"code": code, "expires_in_s": 600}, status=201)

    async def list_paired(self, request: web.Request) -> web.Response:
        return web.json_response({"paired": self.pairing.all()})

    async def unpair(self, request: web.Request) -> web.Response:
        try:
            done = self.pairing.unpair(int(request.match_info["id"]))
        except ValueError:
            return _error(400, "id must be an integer")
        return web.json_response({"unpaired": done}, status=200 if done else 404)
