"""The store gateway process: journal, uplink, lanes and devices behind one authenticated
aiohttp server. `storegw edge` runs it."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

import edge.devices
from edge import http_errors, openapi, token
from edge.coupons import CouponClaims
from edge.devices import receipt_routes
from edge.devices.base import Context
from edge.devices.registry import Devices
from edge.journal import Journal
from edge.lane import Lanes
from edge.lane_bus import LaneBus
from edge.payments.service import Payments
from edge.rpc import HubCalls
from edge.snapshots import Snapshots
from edge.stock import StoreStock
from edge.uplink import Uplink

log = logging.getLogger(__name__)


def load_driver_modules() -> list[Any]:
    """Import every module of edge.devices so each @driver registers its kind."""
    return [
        importlib.import_module(f"edge.devices.{m.name}")
        for m in pkgutil.iter_modules(edge.devices.__path__)
    ]


class Gateway:
    def __init__(
        self,
        store: str,
        gateway: str,
        data_dir: Path,
        mqtt_url: str,
        *,
        tz: str = "Asia/Shanghai",
        uplink_options: dict[str, Any] | None = None,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.journal = Journal(data_dir / "journal.db", store, gateway)
        self.uplink = Uplink(self.journal, mqtt_url, **(uplink_options or {}))
        self.hub_calls = HubCalls(self.uplink)  # lanes' online loyalty calls
        self.stock = StoreStock(self.uplink, self.hub_calls)  # before snapshots (config/+)
        self.snapshots = Snapshots(data_dir, store, self.uplink)  # hub config, held locally
        self.ctx = Context(lanes=LaneBus(), data_dir=data_dir, db=self.journal.db)
        modules = load_driver_modules()
        self.devices = Devices(self.ctx)
        self.payments = Payments(self.ctx, self.devices)
        self.lanes = Lanes(self.journal, self.uplink, self.ctx, tz)
        self.lanes.returns.hub = self.hub_calls  # refunds claim online (edge/returns.py)
        self.stock.lanes = self.lanes  # counts and receipts are journaled as the lanes' events
        self.lanes.coupons = CouponClaims(self.journal.conn, self.hub_calls, data_dir, self.ctx)
        self.token = token.load_or_create(data_dir, "STOREGW_EDGE_TOKEN", "edge-token")
        # the API's description (/openapi.json, /docs) is open: it holds no data (edge/openapi.py)
        open_paths = frozenset({"/health"}) | openapi.OPEN_PATHS
        app = web.Application(
            middlewares=[http_errors.json_errors, token.middleware(self.token, open_paths)]
        )
        app.add_routes([web.get("/health", self._health), *openapi.routes()])
        app.add_routes(self.lanes.routes())
        app.add_routes(self.devices.routes())
        app.add_routes(self.payments.routes())
        app.add_routes(self.snapshots.routes() + self.hub_calls.routes())
        app.add_routes(self.lanes.coupons.routes())
        app.add_routes(self.stock.routes())
        for module in modules:
            if hasattr(module, "lane_routes"):
                app.add_routes(module.lane_routes(self.devices))
        app.add_routes(receipt_routes.routes(self.devices))  # e-receipts and reprints
        self.app = app
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

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
        await self.devices.start()
        await self.payments.start()  # resumes payments a crash left in the middle
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._tasks.append(asyncio.create_task(self._housekeeping()))
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
        uplink_options={"ack_timeout_s": args.ack_timeout},
    )
    bound = await gw.start(host or "127.0.0.1", int(port))
    print(f"storegw edge {args.store}/{args.gateway} ready on http://{host}:{bound}", flush=True)
    if getattr(args, "port_file", None):
        tmp = Path(f"{args.port_file}.tmp")
        tmp.write_text(f"{bound}\n")
        tmp.replace(args.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await gw.stop()
