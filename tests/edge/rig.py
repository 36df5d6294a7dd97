"""A gateway assembled from its real parts for device tests: the journal (SQLite file in
tmp_path), the lane API, Devices with its routes, the printers' lane routes and Payments, served
by aiohttp on a free port and called over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from edge.devices import receipt_routes
from edge.devices.base import Context
from edge.devices.registry import Devices
from edge.gateway import DRIVERS
from edge.journal import Journal
from edge.lane import Lanes
from edge.lane_bus import LaneBus
from edge.payments import Payments
from edge.sim.aggregator import AggregatorSim
from rig.waiting import until

__all__ = ["CODE", "Rig", "agg_toml", "run", "sale", "until", "zvt_toml"]  # until: rig's wait


class Rig:
    def __init__(self, data_dir: Path, devices_toml: str = "") -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        if devices_toml:
            (data_dir / "devices.toml").write_text(devices_toml, "utf-8")
        self.journal = Journal(data_dir / "journal.db", "S001", "G1")
        self.ctx = Context(lanes=LaneBus(), data_dir=data_dir, db=self.journal.db)
        self.devices = Devices(self.ctx, drivers=DRIVERS)
        self.lanes = Lanes(
            self.journal, None, self.ctx, "Asia/Shanghai", [str(n) for n in range(10)]
        )
        self.payments = Payments(self.ctx, self.devices)
        app = web.Application()
        app.add_routes(self.lanes.routes())
        app.add_routes(self.devices.routes())
        app.add_routes(receipt_routes.routes(self.devices))
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


# devices.toml for the payment simulators, shared by the payment and crash-recovery tests
CODE = "134567890123456789"  # a WeChat payment code


def agg_toml(sim: AggregatorSim, extra: str = "") -> str:
    return f"""
[[device]]
id = "agg"
kind = "aggregator"
profile = "generic"
port = "{sim.url}"
merchant_id = "M100"
sub_merchant_id = "SUB-S001"
api_key = "{sim.api_key}"
ca_file = "{sim.ca_file}"
store_id = "S001"
hq_merchant_id = "HQ-1"
hq_share_bp = 300
request_timeout_s = 0.5
query_interval_s = 0.05
query_limit = 4
reverse_interval_s = 0.05
reverse_limit = 3
{extra}
"""


def zvt_toml(host: str, port: int) -> str:
    return f"""
[[device]]
id = "pt"
kind = "terminal"
profile = "zvt-generic"
port = "{host}:{port}"
lane = "1"
ack_timeout_s = 0.3
transaction_timeout_s = 0.6
"""
