"""The real gateway process with a declared network printer (the ESC/POS simulator on a TCP
port): a sale posted at the lane prints its receipt once, with its receipt number, and the
printer shows in the device API."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from edge.sim.printer import PrinterSim
from tests.conftest import Broker, Edge, wait_until


class PrinterThread:
    """The simulator's asyncio server on a loop of its own, so the test can stay synchronous."""

    def __init__(self) -> None:
        self.sim = PrinterSim(columns=48)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.host, self.port = asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(
            10
        )

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_a_sale_prints_its_receipt_once(tmp_path: Path, broker: Broker):
    printer = PrinterThread()
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(
        "[[device]]\n"
        'id = "p1"\nkind = "printer"\nprofile = "epson-tm-t88"\n'
        f'port = "{printer.host}:{printer.port}"\nlane = "1"\n'
        'store_name = "好邻居便利店"\npoll_interval_s = 0.05\n',
        "utf-8",
    )
    edge = Edge(data, "s1", "g1", broker.url)
    edge.start()
    try:
        devices = edge.http.get("/api/devices").json()["devices"]
        assert [(d["id"], d["kind"], d["lane"]) for d in devices] == [("p1", "printer", "1")]
        wait_until(
            lambda: edge.http.get("/api/devices/p1").json()["state"] == "online",
            20,
            what="printer online",
        )
        sale = edge.sell(3, key="lane1-a").json()
        wait_until(lambda: printer.sim.receipts, 20, what=f"a receipt\n{edge.tail()}")
        text = printer.sim.receipts[0].text
        assert sale["receipt_no"] in text and "好邻居便利店" in text and "富士苹果" in text
        # the lane retries the same sale (its answer was lost): nothing new is booked or printed
        assert edge.sell(3, key="lane1-a").status_code == 200
        nxt = edge.sell(4, key="lane1-b").json()
        wait_until(lambda: len(printer.sim.receipts) == 2, 20, what="second receipt")
        assert nxt["receipt_no"] in printer.sim.receipts[1].text
        assert sale["receipt_no"] not in printer.sim.receipts[1].text
        assert edge.journal()["last_seq"] == 2
    finally:
        edge.stop()
        printer.stop()
