"""Device benchmarks, each against the raw limit measured in the same run:

1. scale read rate: weight requests answered per second by the Scale driver through a pty to the
   simulator, vs raw request/reply round trips per second through a pty (same event loop style);
2. scan-to-lane latency: simulator writes a scan → lane bus subscriber has the event, vs the raw
   one-way pty latency.

The gateway's memory is measured on the real `storegw edge` process by bench/gateway_memory.py
(this script's stand-in process, registry and routes only, measured none of the gateway's own).

Run: python bench/devices_bench.py"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.devices.base import Context, DeviceSpec
from edge.devices.scale import Scale
from edge.devices.scanner import Scanner
from edge.lane_bus import LaneBus
from edge.sim.scales import ScaleSim
from edge.sim.scanners import SerialScannerSim

FAST = {"poll_interval_ms": 60000, "command_gap_ms": 0, "reply_timeout_ms": 1000}
ROUNDS = 1000


async def raw_round_trips(n: int, reply: bytes) -> float:
    """Round trips per second: write a request on the slave, the master answers `reply`."""
    loop = asyncio.get_running_loop()
    master, slave = os.openpty()
    tty.setraw(slave)
    for fd in (master, slave):
        os.set_blocking(fd, False)
    got = asyncio.Event()
    buf = bytearray()

    def on_master() -> None:
        os.read(master, 4096)
        os.write(master, reply)

    def on_slave() -> None:
        buf.extend(os.read(slave, 4096))
        if len(buf) >= len(reply):
            buf.clear()
            got.set()

    loop.add_reader(master, on_master)
    loop.add_reader(slave, on_slave)
    start = time.perf_counter()
    for _ in range(n):
        got.clear()
        os.write(slave, b"SI\r\n")
        await got.wait()
    elapsed = time.perf_counter() - start
    loop.remove_reader(master)
    loop.remove_reader(slave)
    os.close(master)
    os.close(slave)
    return n / elapsed


async def raw_one_way(n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(slave, False)
    got = asyncio.Event()
    loop.add_reader(slave, lambda: (os.read(slave, 4096), got.set()))
    out = []
    for _ in range(n):
        got.clear()
        t = time.perf_counter()
        os.write(master, b"6901234567892\r")
        await got.wait()
        out.append(time.perf_counter() - t)
    loop.remove_reader(slave)
    os.close(master)
    os.close(slave)
    return out


async def scale_rate(protocol: str, profile: str, n: int) -> float:
    sim = ScaleSim(protocol, weight="1.250")
    await sim.start()
    scale = Scale(
        DeviceSpec("b", "scale", profile, sim.port, None, FAST), Context(LaneBus(), Path("."))
    )
    scale.start()
    while scale.state != "online":
        await asyncio.sleep(0.01)
    start = time.perf_counter()
    for _ in range(n):
        async with scale._lock:
            await scale._weigh()
    elapsed = time.perf_counter() - start
    await scale.stop()
    await sim.close()
    return n / elapsed


async def scan_latency(n: int) -> list[float]:
    ctx = Context(LaneBus(), Path("."))
    sim = SerialScannerSim()
    await sim.start()
    scanner = Scanner(DeviceSpec("b", "scanner", "newland-cdc", sim.port, "1"), ctx)
    scanner.start()
    lane = ctx.lanes.subscribe("1")
    while scanner.state != "online":
        await asyncio.sleep(0.01)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        sim.scan("6901234567892")
        await lane.get()
        out.append(time.perf_counter() - t)
    await scanner.stop()
    await sim.close()
    return out


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if q < 100 else max(values) * 1000


async def main() -> None:
    raw = await raw_round_trips(ROUNDS, b"S S      1.250 kg\r\n")
    print(f"raw pty round trip:          {raw:8.0f} /s")
    for protocol, profile in (
        ("sics", "mettler-toledo-sics"),
        ("toledo", "mettler-toledo-8217"),
        ("cas", "cas-pd2"),
    ):
        rate = await scale_rate(protocol, profile, ROUNDS)
        trips = 2 if protocol == "cas" else 1  # ENQ/ACK then DC1/frame
        print(
            f"scale read rate ({protocol:6}):    {rate:8.0f} /s   "
            f"ratio to raw {rate * trips / raw:5.2f} ({trips} round trip(s) per read)"
        )
    one_way = await raw_one_way(ROUNDS)
    lat = await scan_latency(ROUNDS)
    raw_p50, scan_p50 = statistics.median(one_way) * 1000, statistics.median(lat) * 1000
    print(f"raw pty one-way latency:     p50 {raw_p50:.3f} ms   p99 {ms(one_way, 99):.3f} ms")
    print(
        f"scan-to-lane latency:        p50 {scan_p50:.3f} ms   p99 {ms(lat, 99):.3f} ms   "
        f"ratio to raw (p50) {scan_p50 / raw_p50:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
