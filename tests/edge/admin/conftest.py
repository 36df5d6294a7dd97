"""Real parts for the admin pages: the gateway as a process (rig.processes.Edge), a simulated
scale on a pty and a simulated ESC/POS printer on TCP, both on an event loop of their own so the
(synchronous) browser tests can drive them, and helpers to set up and log in through the pages."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.sim.printer import PrinterSim
from edge.sim.scales import ScaleSim
from rig.processes import Broker, Edge

USER, PASSWORD = "tech-wang", "Kasse-2026-sicher"
# fast timings for the simulators (the profiles keep the real ones)
FAST_SCALE = "poll_interval_ms = 50\ncommand_gap_ms = 0\nreply_timeout_ms = 300\n"


class Sims:
    """A printer and a scale simulator on a loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.printer = PrinterSim(columns=42)
        self.host, self.port = self.call(self.printer.start())
        self.scale = ScaleSim("toledo", weight="0.000")
        self.call(self.scale.start())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def soon(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        """Run `fn` on the simulators' loop (their state belongs to it)."""
        self.loop.call_soon_threadsafe(lambda: fn(*args, **kwargs))

    def devices_toml(self) -> str:
        return (
            "[[device]]\n"
            'id = "p1"\nkind = "printer"\nprofile = "epson-tm-t88"\n'
            f'port = "{self.host}:{self.port}"\nlane = "1"\n'
            'store_name = "好邻居便利店"\npoll_interval_s = 0.05\n\n'
            "[[device]]\n"
            'id = "sc1"\nkind = "scale"\nprofile = "mettler-toledo-8217"\n'
            f'port = "{self.scale.port}"\nlane = "1"\n{FAST_SCALE}'
        )

    def stop(self) -> None:
        self.call(self.printer.stop())
        self.call(self.scale.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def sims() -> Iterator[Sims]:
    s = Sims()
    yield s
    s.stop()


@pytest.fixture
def edge(tmp_path: Path, broker: Broker) -> Iterator[Edge]:
    e = Edge(tmp_path / "edge", "S001", "G1", broker.url)
    e.start()
    yield e
    e.stop()


@pytest.fixture
def edge_with_devices(tmp_path: Path, broker: Broker, sims: Sims) -> Iterator[Edge]:
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(sims.devices_toml(), "utf-8")
    e = Edge(data, "S001", "G1", broker.url)
    e.start()
    yield e
    e.stop()


def url(edge: Edge, path: str = "/admin/") -> str:
    return f"http://127.0.0.1:{edge.port}{path}"


def set_up(page: Any, edge: Edge) -> None:
    """First run: the set-up page with the code the gateway printed in its log."""
    page.goto(url(edge))
    assert page.url.endswith("/admin/setup"), page.url
    code = (edge.data_dir / "admin-setup-code").read_text().strip()
    assert re.search(rf"set-up code {code}\b", edge.log.read_text()), "code not in the log"
    page.fill("input[name=code]", code)
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/login")


def log_in(page: Any, edge: Edge, user: str = USER, password: str = PASSWORD) -> None:
    page.goto(url(edge, "/admin/login"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def run(coro: Any) -> Any:
    """asyncio.run in a thread of its own: the browser fixture's Playwright keeps an event loop
    running in the test thread of a worker that ran a page test, where asyncio.run refuses."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
