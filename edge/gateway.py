"""The store gateway process: journal, uplink, lanes and devices behind one authenticated
aiohttp server. `storegw edge` runs it."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge import admin, allocator, first_use, http_errors, metrics, pages, token
from edge.coupons import CouponClaims
from edge.declared_lanes import parse_spec
from edge.devices import lanes_io, receipt_routes
from edge.devices.base import Context
from edge.devices.discovery import Discovery
from edge.devices.registry import Devices
from edge.first_use import FirstUse
from edge.journal import Journal
from edge.lane import Lanes
from edge.lane_bus import LaneBus, LaneEvent
from edge.members_cache import MemberDesk
from edge.metrics import GatewayMetrics
from edge.pairing import Pairing  # this gateway with the hub (certificates)
from edge.payments.service import Payments
from edge.rpc import HubCalls
from edge.shifts import Shifts
from edge.snapshots import Snapshots
from edge.stock import StoreStock
from edge.uplink import Uplink
from transport import sd_notify

if TYPE_CHECKING:
    from edge.basket import Baskets
    from edge.pages.returns import ReturnsScreen
    from edge.pages.routes import Pages

log = logging.getLogger(__name__)

# the driver of each kind of device the gateway runs (devices.toml's `kind`); a kind is a line.
# Named, not imported: a driver's module loads with the first device of its kind (declared or
# discovered), so a gateway without a card terminal never loads the ZVT protocol
DRIVERS: dict[str, str] = {
    "scale": "edge.devices.scale:Scale",
    "scanner": "edge.devices.scanner:Scanner",
    "printer": "edge.devices.printer:Printer",
    "drawer": "edge.devices.drawer:Drawer",
    "terminal": "edge.devices.terminal:Terminal",
    "aggregator": "edge.devices.aggregator:Aggregator",
}
# the API's description (/openapi.json, /docs) is open: it holds no data (edge/openapi.py)
API_DOCS = (("GET", "/openapi.json", "spec"), ("GET", "/docs", "docs"))
OPEN_PATHS = frozenset({"/health", metrics.PATH, *(path for _, path, _ in API_DOCS)})


class Gateway:
    def __init__(
        self,
        store: str,
        gateway: str,
        data_dir: Path,
        mqtt_url: str,
        *,
        tz: str = "Asia/Shanghai",
        lanes: str = "1-4",
        uplink_options: dict[str, Any] | None = None,
        min_free_bytes: int = 64 * 2**20,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.journal = Journal(
            data_dir / "journal.db", store, gateway, min_free_bytes=min_free_bytes
        )
        # once paired, the broker address and certificate from the hub win over --mqtt-url
        self.pairing = Pairing(store, gateway, data_dir)
        mqtt_url = self.pairing.mqtt_url() or mqtt_url
        self.uplink = Uplink(self.journal, mqtt_url, **(uplink_options or {}))
        self.pairing.uplink = self.uplink
        self.hub_calls = HubCalls(self.uplink)  # lanes' online loyalty calls
        self.stock = StoreStock(self.uplink, self.hub_calls)  # before snapshots (config/+)
        # the store's recent members pushed by the hub: subscribed before the snapshots' config/+
        self.members = MemberDesk(self.journal.conn, self.hub_calls, store)
        self.snapshots = Snapshots(data_dir, store, self.uplink)  # hub config, held locally
        self.snapshots.members, self.members.on_change = self.members, self.snapshots.report
        self.stock.snapshots = self.snapshots  # the stock page names items from the catalog
        self.ctx = Context(lanes=LaneBus(), data_dir=data_dir, db=self.journal.db)
        self.ctx.item_names = self.snapshots.item_names  # another store's sale's refund slip
        self.devices = Devices(self.ctx, drivers=DRIVERS)
        self.discovery = Discovery(busy=self.devices.port_in_use)  # USB, serial, HID by id
        self.devices.sources.append(self.discovery)
        self.payments = Payments(self.ctx, self.devices)
        self.lanes = Lanes(self.journal, self.uplink, self.ctx, tz, parse_spec(lanes))
        self.lanes.returns.hub = self.hub_calls  # refunds claim online (edge/returns.py)
        self.stock.lanes = self.lanes  # counts and receipts are journaled as the lanes' events
        self.lanes.coupons = CouponClaims(self.journal.conn, self.hub_calls, data_dir, self.ctx)
        self.token = token.load_or_create(data_dir, "STOREGW_EDGE_TOKEN", "edge-token")
        self.metrics = GatewayMetrics(
            self.journal, self.uplink, self.devices, self.ctx, data_dir, self.token
        )
        self.shifts = Shifts(self.journal.conn, self.lanes)  # open, X, Z
        # built at their first use, not at start (edge/first_use.py): an idle gateway serves no
        # basket, no page and no API description. The lanes' baskets (docs/lanes.md) come with
        # the first basket call, shop-floor page or scan at a lane; the pricing engine with them
        self.baskets = FirstUse("the baskets", self._baskets)
        self.pages = FirstUse("the shop-floor pages", self._pages)
        self.returns_screen = FirstUse("the returns screen", self._returns_screen)
        self.api_docs = FirstUse("the API's description", first_use.module("edge.openapi"))
        self.ctx.lanes.listen(self._to_basket)
        # /metrics checks its own tokens (edge/metrics.py); the technician's pages (/admin/) and
        # the shop-floor pages have their own sign-in
        own_auth = (admin.PREFIX, *pages.OWN_AUTH)
        app = web.Application(
            middlewares=[
                http_errors.json_errors,
                token.middleware(self.token, OPEN_PATHS, own_auth=own_auth),
                self._pages_guard,  # paired screens only, on the pages' paths
            ]
        )
        # every route the gateway serves, by who provides it (one line each)
        for routes in (
            [web.get("/health", self._health), *self.api_docs.routes(API_DOCS)],
            self.metrics.routes(),  # /metrics, its own tokens
            self.lanes.routes(),  # sales, refunds, shift closes, the journal
            self.devices.routes(),
            self.payments.routes(),
            self.snapshots.routes(),
            self.hub_calls.routes(),  # members, points, coupon checks, through the hub
            self.lanes.coupons.routes(),  # coupon claims
            self.discovery.routes(),
            lanes_io.routes(self.devices),  # the lane's scans, weights, weighed items
            receipt_routes.routes(self.devices),  # e-receipts and reprints
            self.stock.routes(),  # the store's own stock and alerts, pickups
            # the cashier page, the staff order page, the basket API, pairing
            [*self.pages.routes(pages.ROUTES), web.static(*pages.STATIC)],
            self.shifts.routes(),  # open, X, Z
            # the returns screen on a paired lane; a refund is made in the open shift's name
            self.returns_screen.routes(pages.RETURNS_ROUTES),
        ):
            app.add_routes(routes)
        # open lane event streams (the cashier pages) end at once when the gateway stops
        app.on_shutdown.append(lambda _app: self._close_lanes())
        self.admin = admin.AdminApp(self)  # the technician's pages, /admin/ (edge/admin)
        self.admin.mount(app)
        self.app = app
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def _close_lanes(self) -> None:
        self.ctx.lanes.close()

    # --- the parts built at their first use ---------------------------------------------------
    def _baskets(self) -> Baskets:
        from edge.basket import Baskets
        from edge.basket_coupons import BasketCoupons
        from edge.margin_override import MarginOverride
        from edge.tenders import Tenders

        baskets = Baskets(self.journal.conn, self.lanes, self.snapshots, self.devices, self.members)
        # its parts: coupons claimed at the hub, a manager's override of the margin floor
        # (a manager's account approves it, audited), tenders and the checkout
        baskets.coupons = BasketCoupons(baskets)
        baskets.override = MarginOverride(baskets)
        baskets.override.managers, baskets.override.audit = self.admin.accounts, self.admin
        baskets.tenders = Tenders(baskets, self.payments)
        return baskets

    def _pages(self) -> Pages:
        from edge.pages.pairing import Pairing as ScreenPairing  # a lane screen or staff phone
        from edge.pages.routes import Pages

        return Pages(self.baskets.get(), ScreenPairing(self.journal.conn), self.devices)

    def _returns_screen(self) -> ReturnsScreen:
        from edge.pages.returns import ReturnsScreen

        return ReturnsScreen(self.pages.get(), self.lanes, self.shifts.cashier)

    def _to_basket(self, lane: str, event: LaneEvent) -> None:
        """The lane bus's scans and payment codes at a declared lane go to its basket."""
        if event.get("type") in ("scan", "paycode") and self.lanes.declared.known(lane):
            self.baskets.get().take(lane, event)

    @web.middleware
    async def _pages_guard(
        self, request: web.Request, handler: first_use.Handler
    ) -> web.StreamResponse:
        if not request.path.startswith(pages.GUARDED):
            return await handler(request)
        return await self.pages.get().guard(request, handler)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "store": self.journal.store, "gateway": self.journal.gateway}
        )

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(30)
            try:
                self.journal.stats()  # raises / clears the growth alarm
                if n := self.journal.prune():
                    log.info("pruned %s acknowledged journal rows past retention", n)
            except Exception:
                log.exception("journal housekeeping failed")

    async def start(self, host: str, port: int) -> int:
        await self.uplink.start()
        self.pairing.watch()  # a request still waiting for HQ
        self.pairing.keep_renewed()
        await self.devices.start()
        await self.payments.start()  # resumes payments a crash left in the middle
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._tasks.append(asyncio.create_task(self._housekeeping()))
        self._tasks.append(asyncio.create_task(self.metrics.sample()))
        bound = self._runner.addresses[0][1]
        log.info(
            "gateway %s/%s listening on %s:%s",
            self.journal.store,
            self.journal.gateway,
            host,
            bound,
        )
        return int(bound)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._runner:
            await self._runner.cleanup()
        await self.pairing.stop()
        await self.payments.stop()
        await self.devices.stop()
        await self.uplink.stop()
        self.journal.close()


async def serve(args: Any) -> None:
    host, _, port = args.listen.rpartition(":")
    gw = Gateway(
        args.store,
        args.gateway,
        Path(args.data_dir),
        args.mqtt_url,
        tz=args.tz,
        lanes=getattr(args, "lanes", "1-4"),
        uplink_options={"ack_timeout_s": args.ack_timeout},
        min_free_bytes=getattr(args, "min_free_mib", 64) * 2**20,
    )
    bound = await gw.start(host or "127.0.0.1", int(port))
    print(f"storegw edge {args.store}/{args.gateway} ready on http://{host}:{bound}", flush=True)
    if getattr(args, "port_file", None):
        tmp = Path(f"{args.port_file}.tmp")
        tmp.write_text(f"{bound}\n")
        tmp.replace(args.port_file)
    sd_notify.ready(f"gateway {args.store}/{args.gateway} listening on port {bound}")
    allocator.give_back()  # what starting freed goes back to the system (edge/allocator.py)
    watchdog = asyncio.create_task(sd_notify.keep_alive())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    sd_notify.notify("STOPPING=1")
    watchdog.cancel()
    await gw.stop()
