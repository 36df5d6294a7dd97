"""The real gateway process with a declared network printer (the ESC/POS simulator on a TCP
port): a sale posted at the lane prints its receipt once, with its receipt number, and the
printer shows in the device API."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import httpx
import pytest

from edge.sim.printer import PrinterSim
from tests.conftest import Broker, Edge, sale_body, wait_until


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


class AggregatorThread:
    """The payment aggregator simulator (HTTPS) on a loop of its own."""

    def __init__(self, behaviour: str) -> None:
        from edge.sim.aggregator import AggregatorSim

        self.sim = AggregatorSim(behaviour=behaviour)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.call(self.sim.start())

    def call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


def state(edge: Edge, key: str) -> str | None:
    return edge.http.get(f"/api/payments/{key}").json().get("payment", {}).get("state")


@pytest.mark.slow
def test_gateway_killed_mid_qr_payment_charges_once_and_books(tmp_path: Path, broker: Broker):
    """The real `storegw edge`: SIGKILL while the customer is confirming a QR payment; the
    restarted gateway asks the aggregator, finds the money taken, and the lane's sale books it."""
    from tests.edge.rig import CODE, agg_toml

    agg = AggregatorThread("hold")
    data = tmp_path / "edge"
    data.mkdir()
    # a patient request: the kill must land while the gateway waits on the aggregator
    toml = agg_toml(agg.sim).replace("request_timeout_s = 0.5", "request_timeout_s = 30")
    (data / "devices.toml").write_text(toml, "utf-8")
    edge = Edge(data, "s1", "g1", broker.url)
    edge.start()
    key = "lane1-20261123-0042"
    try:
        pay = {"key": key, "method": "wechat", "amount_fen": 4120, "auth_code": CODE}
        with contextlib.suppress(httpx.HTTPError):  # it blocks while the customer confirms
            edge.http.post("/api/lanes/1/payments", json=pay, timeout=1.0)
        wait_until(lambda: agg.sim.holding.is_set(), 20, 0.01, what="the aggregator holding")
        edge.kill()
        assert agg.sim.charged_fen == 0
        agg.loop.call_soon_threadsafe(agg.sim.release, True)
        wait_until(lambda: agg.sim.charged_fen == 4120, 20, what="the customer paid")
        edge.start()
        wait_until(lambda: state(edge, key) == "approved", 30, what=f"resolved\n{edge.tail()}")
        # the lane comes back and submits the same key again: no second charge
        again = edge.http.post("/api/lanes/1/payments", json=pay).json()["payment"]
        assert again["state"] == "approved" and agg.sim.charged_fen == 4120
        assert agg.sim.requests.count(("/v1/pay", key)) == 1
        body = sale_body(0)  # total 4120 fen, paid by wechat: claim the payment by its key
        body["payments"] = [{"tender": "wechat", "amount_fen": 4120, "ref": key}]
        assert edge.http.post("/api/lanes/1/sales", json=body).status_code == 201
        assert edge.journal()["last_seq"] == 1
    finally:
        edge.stop()
        agg.stop()
