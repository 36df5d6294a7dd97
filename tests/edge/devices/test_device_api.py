"""The gateway's device API and the lane's device routes, on a real aiohttp server: devices
declared in devices.toml, listed, driven by actions, a weighed item priced, scans streamed."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from edge.devices.base import Context
from edge.devices.registry import Devices
from edge.sim.scales import ScaleSim
from edge.sim.scanners import SerialScannerSim
from protocols import pricing
from rig.waiting import until

from .conftest import FAST, gateway

pytestmark = pytest.mark.anyio


def declare(tmp_path: Path, *entries: dict[str, object]) -> None:
    lines = []
    for entry in entries:
        lines.append("[[device]]")
        for key, value in entry.items():
            lines.append(f"{key} = {json.dumps(value)}")
    (tmp_path / "devices.toml").write_text("\n".join(lines) + "\n")


async def test_declared_devices_listed_and_driven(ctx: Context, tmp_path: Path) -> None:
    scale_sim = ScaleSim("sics", weight="1.234")
    scanner_sim = SerialScannerSim()
    await scale_sim.start()
    await scanner_sim.start()
    declare(
        tmp_path,
        {
            "id": "scale-lane1",
            "kind": "scale",
            "profile": "mettler-toledo-sics",
            "port": scale_sim.port,
            "lane": "1",
            **FAST,
        },
        {
            "id": "scanner-lane1",
            "kind": "scanner",
            "profile": "newland-cdc",
            "port": scanner_sim.port,
            "lane": "1",
        },
    )
    devices = Devices(ctx)
    await devices.start()
    async with gateway(devices) as client:
        await until(lambda: all(d.state == "online" for d in devices.by_id.values()))
        listed = (await (await client.get("/api/devices")).json())["devices"]
        by_id = {d["id"]: d for d in listed}
        assert set(by_id) == {"scale-lane1", "scanner-lane1"}
        for d in listed:
            assert {"id", "kind", "profile", "port", "lane", "state"} <= set(d)
        assert by_id["scale-lane1"]["kind"] == "scale" and by_id["scale-lane1"]["lane"] == "1"
        assert by_id["scale-lane1"]["port"] == scale_sim.port
        assert by_id["scale-lane1"]["state"] == "online"
        assert by_id["scale-lane1"]["identity"] == "SIM0001"  # MT-SICS I4 probe

        r = await client.post("/api/devices/scale-lane1/read")
        assert r.status == 200
        result = (await r.json())["result"]
        assert result["grams"] == 1234 and result["stable"]

        r = await client.post("/api/devices/scale-lane1/tare", json={})
        assert (await r.json())["result"]["tare_g"] == 1234

        r = await client.post("/api/devices/scale-lane1/fly")
        assert r.status == 404 and "no action" in (await r.json())["error"]
        r = await client.post("/api/devices/nope/read")
        assert r.status == 404
        r = await client.post("/api/devices/scale-lane1/zero", data=b"{not json")
        assert r.status == 400

        scale_sim.set(motion=True)
        r = await client.post("/api/devices/scale-lane1/read")
        assert r.status == 409 and "not stable" in (await r.json())["error"]
    await scale_sim.close()
    await scanner_sim.close()


async def test_weigh_prices_a_stable_weight_per_kg(ctx: Context, tmp_path: Path) -> None:
    sim = ScaleSim("toledo", weight="0.457")
    await sim.start()
    declare(
        tmp_path,
        {
            "id": "scale-2",
            "kind": "scale",
            "profile": "mettler-toledo-8217",
            "port": sim.port,
            "lane": "2",
            **FAST,
        },
    )
    devices = Devices(ctx)
    await devices.start()
    async with gateway(devices) as client:
        await until(lambda: devices.by_id["scale-2"].state == "online")
        body = {"sku": "APPLE-FUJI", "name": "富士苹果", "price_per_kg_fen": 1298}
        r = await client.post("/api/lanes/2/weigh", json=body)
        assert r.status == 200, await r.text()
        line = (await r.json())["line"]
        # 457 g × 12.98 元/kg = 5.93186 元 → 593 fen (half up)
        assert line == {
            "sku": "APPLE-FUJI",
            "name": "富士苹果",
            "qty_milli": 457,
            "unit_price_fen": 1298,
            "discount_fen": 0,
            "total_fen": 593,
            "weighed": True,
        }
        sim.set("0.750")  # 750 g × 0.02 元/kg = 1.5 fen → 2 (half up)
        r = await client.post("/api/lanes/2/weigh", json={**body, "price_per_kg_fen": 2})
        assert (await r.json())["line"]["total_fen"] == 2 == pricing.weighed(750, 2)

        sim.set(motion=True)
        r = await client.post("/api/lanes/2/weigh", json=body)
        assert r.status == 409 and "not stable" in (await r.json())["error"]
        sim.set("-0.100", motion=False)
        r = await client.post("/api/lanes/2/weigh", json=body)
        assert r.status == 409 and "under zero" in (await r.json())["error"]
        sim.set("0.000")
        r = await client.post("/api/lanes/2/weigh", json=body)
        assert r.status == 409 and "not positive" in (await r.json())["error"]
        sim.set(Decimal("16.000"))  # above the 15 kg capacity of the profile
        r = await client.post("/api/lanes/2/weigh", json=body)
        assert r.status == 409 and "capacity" in (await r.json())["error"]

        r = await client.post("/api/lanes/9/weigh", json=body)
        assert r.status == 404 and "no scale" in (await r.json())["error"]
        r = await client.post("/api/lanes/2/weigh", json={**body, "price_per_kg_fen": 12.98})
        assert r.status == 400 and "price_per_kg_fen" in (await r.json())["error"]
        r = await client.post("/api/lanes/2/weigh", data=b"nope")
        assert r.status == 400
    await sim.close()


async def test_lane_events_stream_scans_and_masks_payment_codes(
    ctx: Context, tmp_path: Path
) -> None:
    sim = SerialScannerSim()
    await sim.start()
    declare(
        tmp_path,
        {
            "id": "scanner-5",
            "kind": "scanner",
            "profile": "newland-cdc",
            "port": sim.port,
            "lane": "5",
        },
    )
    devices = Devices(ctx)
    await devices.start()
    payment_module = ctx.lanes.subscribe("5")  # what the in-process payment module sees
    async with gateway(devices) as client:
        await until(lambda: devices.by_id["scanner-5"].state == "online")
        response = await client.get("/api/lanes/5/events")
        assert response.headers["Content-Type"].startswith("text/event-stream")
        await response.content.readuntil(b"\n\n")  # the opening comment
        sim.scan("]E06901234567892")
        sim.scan("281234567890123456")

        async def next_event() -> tuple[str, dict[str, object]]:
            block = (await asyncio.wait_for(response.content.readuntil(b"\n\n"), 3)).decode()
            fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
            return fields["event"], json.loads(fields["data"])

        kind, scan = await next_event()
        assert kind == "scan" and scan["gtin"] == "06901234567892" and scan["device"] == "scanner-5"
        kind, pay = await next_event()
        assert kind == "paycode" and pay["masked"] == "2812**********3456"
        assert "code" not in pay
        await asyncio.wait_for(payment_module.get(), 3)
        full = await asyncio.wait_for(payment_module.get(), 3)
        assert full["code"] == "281234567890123456"
        response.close()
    await sim.close()
