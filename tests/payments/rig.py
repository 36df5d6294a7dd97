"""A gateway assembled from its real parts for device tests: the journal (SQLite file in
tmp_path), the lane API, Devices with its routes, the printers' lane routes and Payments, served
by aiohttp on a free port and called over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import edge.devices.aggregator
import edge.devices.drawer
import edge.devices.printer
import edge.devices.terminal
from edge.devices.base import Context
from edge.devices.registry import Devices
from edge.journal import Journal
from edge.lane import Lanes
from edge.lane_bus import LaneBus
from edge.payments import Payments


class Rig:
    def __init__(self, data_dir: Path, devices_toml: str = "") -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        if devices_toml:
            (data_dir / "devices.toml").write_text(devices_toml, "utf-8")
        self.journal = Journal(data_dir / "journal.db", "S001", "G1")
        self.ctx = Context(lanes=LaneBus(), data_dir=data_dir, db=self.journal.db)
        self.devices = Devices(self.ctx)
        self.lanes = Lanes(self.journal, None, self.ctx, "Asia/Shanghai")
        self.payments = Payments(self.ctx, self.devices)
        app = web.Application()
        app.add_routes(self.lanes.routes())
        app.add_routes(self.devices.routes())
        app.add_routes(edge.devices.printer.lane_routes(self.devices))
        app.add_routes(self.payments.routes())
        self.app = app
        self.url = ""
        self._runner: web.AppRunner | None = None
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Rig:
        await self.devices.start()
        await self.payments.start()
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self.http = aiohttp.ClientSession(self.url, timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http:
            await self.http.close()
        await self.payments.stop()
        await self.devices.stop()
        if self._runner:
            await self._runner.cleanup()
        self.journal.close()

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.http
        async with self.http.request(method, path, json=body) as r:
            return r.status, await r.json(content_type=None)

    async def online(self, device_id: str, timeout: float = 5.0) -> None:
        await until(lambda: self.devices.by_id[device_id].state == "online", timeout,
                    f"{device_id} online")  # fmt: skip


async def until(pred: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run(coro: Any, timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def sale(lane_payments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A sale with packaged goods, a weighed item, a discount and a member."""
    return {
        "cashier": "张丽",
        "lines": [
            {"sku": "6901028075015", "name": "农夫山泉 550ml", "qty_milli": 2000,
             "unit_price_fen": 200},
            {"sku": "2000123", "name": "富士苹果", "qty_milli": 1250, "unit_price_fen": 1280,
             "weighed": True},
        ],
        "payments": lane_payments or [{"tender": "cash", "amount_fen": 5000}],
        "member_id": "M8",
        "member": {"name": "王芳", "tier": "金卡", "points_earned": 20, "points_balance": 320},
    }  # fmt: skip
