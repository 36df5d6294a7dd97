"""The cashier page's first load on a cold browser: a new headless Chromium each run, a screen
cookie already paired, from `goto /lane/1/` until the basket is on the screen (the total
filled in from the gateway), with every request counted and any request outside the gateway
listed. Beside it, in the same run, the raw limit: one plain HTTP GET of the page's HTML.
Goal: under 1 s, nothing fetched from outside. The first run's requests are printed with
their sizes and when each finished, and when the total filled in (the profile).

    python bench/lane_page_load.py [runs]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from playwright.sync_api import sync_playwright

from bench.common import mosquitto
from rig import Edge
from rig.browser import CHROMIUM_ARGS, LAPTOP, chromium_path, outside_requests
from rig.lane_store import write_snapshots

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = mosquitto(root / "broker")
        write_snapshots(root / "edge", "s1")
        edge = Edge(root / "edge", "s1", "g1", broker.url)
        edge.start()
        base = f"http://127.0.0.1:{edge.port}"
        try:
            code = edge.http.post("/api/lanes/1/pairing").json()["code"]
            screen = httpx.Client(base_url=base)
            screen.post("/lane/pair", data={"code": code})
            cookie = screen.cookies["storegw_lane"]
            edge.http.post("/api/lanes/1/basket/scan", json={"code": "6901028075015"})
            raw, loads, outside, requests = [], [], [], []
            with sync_playwright() as p:
                for _ in range(RUNS):
                    t0 = time.perf_counter()
                    screen.get("/lane/1/")
                    raw.append((time.perf_counter() - t0) * 1000)
                    browser = p.chromium.launch(executable_path=chromium_path(),
                                                args=CHROMIUM_ARGS)  # fmt: skip
                    ctx = browser.new_context(viewport=LAPTOP)
                    ctx.add_cookies([{"name": "storegw_lane", "value": cookie, "url": base}])
                    page = ctx.new_page()
                    seen = outside_requests(page, f"127.0.0.1:{edge.port}")
                    done: list[tuple[float, str, int]] = []
                    t0 = time.perf_counter()
                    page.on("requestfinished", lambda r, done=done, t0=t0: done.append((
                        (time.perf_counter() - t0) * 1000, r.url.removeprefix(base),
                        (r.sizes() or {}).get("responseBodySize", 0))))  # fmt: skip
                    page.goto(f"{base}/lane/1/")
                    page.wait_for_selector("#total:has-text('¥2.00')")
                    loads.append((time.perf_counter() - t0) * 1000)
                    outside += seen
                    if len(loads) == 1:
                        for at, url, size in done:
                            print(f"  {at:7.0f} ms  {url}  {size} bytes (on the wire)")
                        print(f"  {loads[0]:7.0f} ms  the total shown")
                    requests.append(len(done))
                    browser.close()
            print(f"cold browser, first load to basket shown: median {statistics.median(loads):.0f}"
                  f" ms (max {max(loads):.0f} ms, goal < 1000 ms) over {RUNS} runs; "
                  f"plain GET of the HTML {statistics.median(raw):.1f} ms (ratio "
                  f"{statistics.median(loads) / statistics.median(raw):.0f}x); requests finished "
                  f"before the total: {statistics.median(requests):.0f}; "
                  f"requests outside the gateway: {len(outside)}; "
                  f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        finally:
            edge.stop()
            broker.stop()


if __name__ == "__main__":
    main()
