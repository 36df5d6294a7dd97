"""Scale drivers against the simulators over real ptys: reads, zero and tare, the stable-weight
rule, a 7E1 scale read as 8N1, garbled bytes on the line, unplug / re-plug in the middle of a
read, and supervision that logs "unavailable" once and "recovered" once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from edge.devices.base import ConfigurationError, Context, DeviceError, DeviceSpec
from edge.devices.scale import Scale
from edge.sim.scales import ScaleSim
from rig.waiting import until

from .conftest import FAST, fast

pytestmark = pytest.mark.anyio

PROFILES = {"toledo": "mettler-toledo-8217", "sics": "mettler-toledo-sics", "cas": "cas-pd2"}


async def start(ctx: Context, sim: ScaleSim, protocol: str, **options: object) -> Scale:
    spec = DeviceSpec("scale-1", "scale", PROFILES[protocol], sim.port, "1", {**FAST, **options})
    scale = fast(Scale(spec, ctx))
    scale.start()
    return scale


@pytest.mark.parametrize("protocol", sorted(PROFILES))
async def test_read_zero_tare_over_a_pty(ctx: Context, protocol: str) -> None:
    sim = ScaleSim(protocol, weight="1.250")
    await sim.start()
    scale = await start(ctx, sim, protocol)
    try:
        await until(lambda: scale.state == "online", what="online")
        read = await scale.action("read", {})
        assert read["grams"] == 1250 and read["stable"] and read["sellable"]
        sim.set("0.876")
        assert (await scale.action("read", {}))["grams"] == 876
        tared = await scale.action("tare", {})
        assert tared["reading"]["grams"] == 0
        if protocol == "sics":
            assert tared["tare_g"] == 876
        sim.set("0.300")
        assert (await scale.action("zero", {}))["reading"]["grams"] == 0
        assert sim.requests > 3  # the bytes really went through the simulator
    finally:
        await scale.stop()
        await sim.close()


@pytest.mark.parametrize("protocol", sorted(PROFILES))
async def test_motion_overload_and_negative_never_price(ctx: Context, protocol: str) -> None:
    sim = ScaleSim(protocol, weight="1.000")
    await sim.start()
    scale = await start(ctx, sim, protocol)
    try:
        await until(lambda: scale.state == "online")
        sim.set(motion=True)
        with pytest.raises(DeviceError, match="not stable"):
            await scale.stable_weight()
        sim.set(motion=False, overload=True)
        with pytest.raises(DeviceError, match="over capacity"):
            await scale.stable_weight()
        sim.set("-0.120", overload=False)
        if protocol == "toledo":
            with pytest.raises(DeviceError, match="under zero"):
                await scale.stable_weight()
        else:
            weight = await scale.stable_weight()
            assert weight.grams == -120
            assert "not positive" in (scale.sellable(weight) or "")
        sim.set("0.050")
        light = await scale.stable_weight()
        assert "below the scale's minimum" in (scale.sellable(light) or "")
        sim.set("0.000")
        assert "not positive" in (scale.sellable(await scale.stable_weight()) or "")
    finally:
        await scale.stop()
        await sim.close()


async def test_stable_rule_needs_repeated_equal_readings(ctx: Context) -> None:
    """The SICS scale reports "stable" while the weight still creeps: not yet a weight."""
    sim = ScaleSim("sics", weight="1.000")
    await sim.start()
    scale = await start(ctx, sim, "sics", stable_readings=3)
    creeping = True

    async def creep() -> None:
        grams = 1000
        while creeping:
            grams += 5
            sim.set(f"{grams / 1000:.3f}")
            await asyncio.sleep(0.005)

    try:
        await until(lambda: scale.state == "online")
        task = asyncio.create_task(creep())
        with pytest.raises(DeviceError, match="no stable weight"):
            await scale.stable_weight()
        creeping = False
        await task
        settled = sim.weight
        weight = await scale.stable_weight()
        assert weight.value == settled
    finally:
        await scale.stop()
        await sim.close()


async def test_7e1_scale_read_as_8n1_is_a_configuration_error(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    sim = ScaleSim("toledo", weight="1.250", seven_bit="E")  # the 7E1 wire of a real 8217
    await sim.start()
    scale = await start(ctx, sim, "toledo", bytesize=8, parity="N")
    events = ctx.lanes.subscribe("1")
    try:
        await until(lambda: scale.last_error, what="an error")
        assert scale.state == "unavailable"
        assert "bit 7" in scale.last_error and "8N1" in scale.last_error
        with pytest.raises(DeviceError, match="unavailable"):
            await scale.action("read", {})
        assert events.empty()  # no weight ever reached the lane
        assert sim.requests > 0  # the driver did talk to it
    finally:
        await scale.stop()
        await sim.close()
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1  # once, however often the supervisor retried


async def test_the_same_scale_with_the_right_settings_reads(ctx: Context) -> None:
    sim = ScaleSim("toledo", weight="2.345")
    await sim.start()
    scale = await start(ctx, sim, "toledo")  # profile: 7E1
    try:
        await until(lambda: scale.state == "online")
        assert (await scale.action("read", {}))["grams"] == 2345
    finally:
        await scale.stop()
        await sim.close()


async def test_the_diagnosis_names_the_parity_fix(ctx: Context) -> None:
    sim = ScaleSim("toledo", weight="1.250", seven_bit="E")
    await sim.start()
    scale = Scale(
        DeviceSpec("s", "scale", PROFILES["toledo"], sim.port, None, {**FAST, "bytesize": 8}),
        ctx,
    )
    try:
        with pytest.raises(ConfigurationError, match="bytesize = 7 and parity = E"):
            await scale.connect()
    finally:
        await scale.close()
        await sim.close()


async def test_garbage_on_the_line_then_a_good_reading(ctx: Context) -> None:
    sim = ScaleSim("cas", weight="0.750")
    await sim.start()
    scale = await start(ctx, sim, "cas")
    try:
        await until(lambda: scale.state == "online")
        sim.inject(b"\x01\x02S 01.2")  # half a frame, as if the cable glitched
        sim.inject(b"\x13\x7f junk")
        assert (await scale.action("read", {}))["grams"] == 750
    finally:
        await scale.stop()
        await sim.close()


async def test_unplug_in_the_middle_of_a_read_and_replug(
    ctx: Context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sim = ScaleSim("sics", weight="1.500", link=tmp_path / "usb-Mettler_Toledo_SIM1-if00-port0")
    await sim.start()
    scale = await start(ctx, sim, "sics", settle_timeout_ms=3000)
    try:
        await until(lambda: scale.state == "online")
        sim.set(motion=True)  # the read keeps polling for a stable weight…
        read = asyncio.create_task(scale.action("read", {}))
        asked = sim.requests
        await until(lambda: sim.requests >= asked + 3, what="the read polling")
        assert not read.done()
        sim.unplug()  # …when the cable is pulled
        with pytest.raises(DeviceError, match=r"disconnected|unavailable"):
            await read
        await until(lambda: scale.state == "unavailable")
        attempts = 0
        connect = scale.connect

        async def counted() -> None:
            nonlocal attempts
            attempts += 1
            await connect()

        scale.connect = counted  # type: ignore[method-assign]
        await until(lambda: attempts >= 3, what="reconnect attempts while unplugged")
        sim.plug()  # a new pty; the by-id link follows it
        sim.set("1.500", motion=False)
        await until(lambda: scale.state == "online", what="recovered")
        assert (await scale.action("read", {}))["grams"] == 1500
    finally:
        await scale.stop()
        await sim.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "edge.devices.base"]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("recovered" in m for m in messages) == 1


async def test_a_silent_scale_becomes_unavailable(ctx: Context) -> None:
    sim = ScaleSim("sics", weight="1.000")
    await sim.start()
    scale = await start(ctx, sim, "sics")
    try:
        await until(lambda: scale.state == "online")
        sim.answer = False  # powered off, cable still in
        await until(lambda: scale.state == "unavailable", what="unavailable")
        assert "no" in (scale.last_error or "")
        sim.answer = True
        await until(lambda: scale.state == "online", what="back")
    finally:
        await scale.stop()
        await sim.close()


async def test_weight_changes_reach_the_scales_lane_only(ctx: Context) -> None:
    sim = ScaleSim("cas", weight="0.500")
    await sim.start()
    lane1, lane2 = ctx.lanes.subscribe("1"), ctx.lanes.subscribe("2")
    scale = await start(ctx, sim, "cas")
    try:
        first = await asyncio.wait_for(lane1.get(), 3)
        assert first == {
            "type": "weight",
            "device": "scale-1",
            "grams": 500,
            "stable": True,
            "net": False,
        }
        sim.set("0.650")
        while (event := await asyncio.wait_for(lane1.get(), 3))["grams"] != 650:
            pass
        assert event["stable"]
        assert lane2.empty()
    finally:
        await scale.stop()
        await sim.close()


async def test_an_unknown_profile_is_a_configuration_error(ctx: Context) -> None:
    scale = fast(Scale(DeviceSpec("s", "scale", "nope", "/dev/null", "1"), ctx))
    scale.start()
    try:
        await until(lambda: scale.last_error)
        assert "no scale profile 'nope'" in scale.last_error
    finally:
        await scale.stop()
