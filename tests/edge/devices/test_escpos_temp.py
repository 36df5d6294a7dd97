"""python-escpos made a temporary folder at import (`mkdtemp()` as the default of an
environment lookup, so even when told where to cache) and never removed it: every gateway start
left a `tmpXXXX` folder behind. The real `storegw edge`, with a network printer printing a
receipt, leaves its temporary folder empty; and where python-escpos is still loaded (serial, USB
and file printers), its folder is removed and its cache is the gateway's own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.sim.printer import PrinterSim
from rig import Broker, Edge, wait_until

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def printer() -> Iterator[PrinterSim]:
    """The ESC/POS printer simulator on a TCP port, on an event loop of its own."""
    sim = PrinterSim(columns=48)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(10)
    yield sim
    asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


def test_a_gateway_that_prints_leaves_no_temporary_folder(
    tmp_path: Path, broker: Broker, printer: PrinterSim
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(
        '[[device]]\nid = "p1"\nkind = "printer"\nprofile = "epson-tm-t88"\n'
        f'port = "{printer.address[0]}:{printer.address[1]}"\nlane = "1"\npoll_interval_s = 0.05\n',
        "utf-8",
    )
    edge = Edge(data, "s1", "g1", broker.url)
    edge.env["TMPDIR"] = str(temp)
    for start in range(2):  # each start used to leave one more
        edge.start()
        try:
            wait_until(lambda: edge.http.get("/api/devices/p1").json()["state"] == "online", 20,
                       what="printer online")  # fmt: skip
            assert edge.sell(start, key=f"k{start}").status_code == 201
            wait_until(lambda n=start + 1: len(printer.receipts) == n, 20, what="the receipt")
        finally:
            edge.stop()
        assert sorted(p.name for p in temp.iterdir()) == []


LOAD = """
import os, sys
from pathlib import Path
from edge.devices import escpos_lib
printer = escpos_lib.printers(Path(sys.argv[1]))
assert printer.Dummy(profile="default") is not None
print(os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"])
"""


def test_loading_python_escpos_cleans_up_after_it(tmp_path: Path) -> None:
    temp, data = tmp_path / "tmp", tmp_path / "data"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(ROOT)}
    env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
    for _ in range(2):  # the second load reuses the cache the first one wrote
        out = subprocess.run([sys.executable, "-c", LOAD, str(data)], env=env, text=True,
                             capture_output=True, check=True, cwd=tmp_path)  # fmt: skip
        assert out.stdout.strip() == str(data / "cache" / "escpos")
        assert [p.suffix for p in (data / "cache" / "escpos").iterdir()] == [".pickle"]
        assert list(temp.iterdir()) == []
