"""Scan to basket: a barcode sent by a simulated serial scanner (a pty) to a real `storegw edge`
until the page's server-sent event with the new basket arrives (the scanner driver, the lane
bus, the catalog look-up, the basket's SQLite write, the pricing engine on the whole basket,
the SSE write). Beside it, in the same run, the floor the issue names: a plain dict look-up of
the same barcode. Goal: p99 < 50 ms.

    python bench/scan_to_basket.py [scans per run] [runs]
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from bench.common import mosquitto, pct
from edge.sim.scanners import SerialScannerSim
from protocols.codes import ean
from rig import Edge
from rig.lane_store import PROMOTIONS, TIERS, shop_data, write_snapshots
from rig.sim_loop import SimLoop

SCANS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
ITEMS = 200  # the catalog; each run's basket grows to a few dozen lines


def catalog() -> tuple[list[dict], dict[str, int]]:
    items, prices = [], {}
    for i in range(ITEMS):
        code = ean.with_check_digit(f"690{i:09d}")
        items.append({"sku": code, "name": f"商品{i}", "category": f"c{i % 7}",
                      "barcodes": [code], "cost_fen": 100 + i})  # fmt: skip
        prices[code] = 150 + 3 * i
    return items, prices


async def run(edge: Edge, scanner: SerialScannerSim, codes: list[str]) -> list[float]:
    """Milliseconds from each scan to the basket event carrying it."""
    url = f"http://127.0.0.1:{edge.port}/api/lanes/1/events"
    headers = {"Authorization": "Bearer test-lane-token"}
    out: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as resp:
        await resp.content.readline()  # the stream's opening comment
        for code in codes:
            t0 = time.perf_counter()
            scanner.scan(code)
            while True:  # the scan's own event, then the basket's
                line = await resp.content.readline()
                if line.startswith(b"data: ") and b'"basket"' in line[:40]:
                    basket = json.loads(line[6:])["basket"]
                    if any(x["sku"] == code for x in basket["lines"]):
                        break
            out.append((time.perf_counter() - t0) * 1000)
    async with aiohttp.ClientSession(headers=headers) as http:  # next run: an empty basket
        await http.post(f"http://127.0.0.1:{edge.port}/api/lanes/1/basket/suspend", json={})
    return out


def dict_lookup_ms(index: dict[str, dict], codes: list[str]) -> float:
    t0 = time.perf_counter()
    for code in codes:
        index[code]["name"]
    return (time.perf_counter() - t0) * 1000 / len(codes)


def main() -> None:
    items, prices = catalog()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = mosquitto(root / "broker")
        sims = SimLoop()
        scanner = SerialScannerSim()
        sims.run(scanner.start())
        data = root / "edge"
        write_snapshots(data, "s1", shop_data(items, prices, PROMOTIONS, TIERS))
        (data / "devices.toml").write_text(
            f'[[device]]\nid = "scanner"\nkind = "scanner"\nprofile = "newland-cdc"\n'
            f'port = "{scanner.port}"\nlane = "1"\n',
            "utf-8",
        )
        edge = Edge(data, "s1", "g1", broker.url)
        edge.start()
        try:
            rng = random.Random(12)
            index = {it["barcodes"][0]: it for it in items}
            p50s, p99s, floors = [], [], []
            for r in range(RUNS):
                codes = [rng.choice(items)["sku"] for _ in range(SCANS)]
                ms = sims.run(run(edge, scanner, codes), timeout=600)
                floor = dict_lookup_ms(index, codes)
                p50s.append(pct(ms, 50))
                p99s.append(pct(ms, 99))
                floors.append(floor)
                print(f"run {r + 1}: scan→basket p50 {p50s[-1]:.2f} ms, p99 {p99s[-1]:.2f} ms, "
                      f"max {max(ms):.2f} ms; dict look-up {floor * 1000:.3f} µs")  # fmt: skip
            p50, p99, floor = (statistics.median(x) for x in (p50s, p99s, floors))
            print(f"median of {RUNS} runs × {SCANS} scans: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
                  f"(goal < 50 ms: {'met' if p99 < 50 else 'NOT met'}); plain dict look-up "
                  f"{floor * 1000:.3f} µs; ratio p50 / dict ≈ {p50 / floor:,.0f}×")  # fmt: skip
        finally:
            edge.stop()
            sims.run(scanner.close())
            sims.stop()
            broker.stop()


if __name__ == "__main__":
    main()
