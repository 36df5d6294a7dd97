"""A shift on a real `storegw edge`: opened with a float, the X report from the journal (no side
effects), closed with the cashier's count: the Z report with over/short, journaled as
`shift.closed`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.sim.printer import PrinterSim
from rig.lane_store import write_snapshots
from rig.sim_loop import SimLoop
from tests.conftest import Broker, Edge, wait_until
from tests.edge.rig import sale
from transport.ids import new_id

WATER = "6901028075015"


def test_open_x_report_close_z_report(tmp_path: Path, broker: Broker):
    write_snapshots(tmp_path / "edge", "s1")
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    edge.start()
    try:
        http = edge.http
        assert http.get("/api/lanes/1/shifts/current").status_code == 404
        opened = http.post("/api/lanes/1/shifts/open", json={"cashier": "张丽", "float_fen": 10000})
        assert opened.status_code == 201 and opened.json()["expected_cash_fen"] == 10000
        again = http.post("/api/lanes/1/shifts/open", json={"cashier": "李娜"})
        assert again.status_code == 409
        assert http.post("/api/lanes/1/shifts/open", json={"cashier": 7}).status_code == 400
        assert http.post("/api/lanes/zz/shifts/open", json={"cashier": "x"}).status_code == 404

        for _ in range(2):
            http.post("/api/lanes/1/basket/scan", json={"code": WATER})
        paid = http.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": 500})
        assert paid.json()["sale"]["change_fen"] == 100
        http.post("/api/lanes/2/basket/scan", json={"code": WATER})  # another lane's sale
        http.post("/api/lanes/2/basket/pay", json={"tender": "cash", "tendered_fen": 200})

        x = http.get("/api/lanes/1/shifts/current").json()
        assert (x["sales_count"], x["sales_fen"], x["tenders"]) == (1, 400, {"cash": 400})
        assert x["expected_cash_fen"] == 10400
        assert http.get("/api/lanes/1/shifts/current").json() == x  # reading changes nothing

        z = http.post("/api/lanes/1/shifts/current/close", json={"counted": {"cash": 10350}})
        assert z.status_code == 201, z.text
        assert z.json()["over_short_fen"] == {"cash": -50}
        assert http.get("/api/lanes/1/shifts/current").status_code == 404
        seq = z.json()["journal"]["seq"]
    finally:
        edge.stop()
    with sqlite3.connect(tmp_path / "edge" / "journal.db") as db:
        row = db.execute("SELECT envelope FROM events WHERE seq = ?", (seq,)).fetchone()
    env = json.loads(row[0])
    body = env["body"]
    assert env["type"] == "shift.closed" and body["lane"] == "1" and body["sales_fen"] == 400
    assert body["tenders"] == [{"tender": "cash", "expected_fen": 10400, "counted_fen": 10350}]


def _printer_toml(port: int, language: str) -> str:
    return (
        f'[[device]]\nid = "p1"\nkind = "printer"\nprofile = "epson-tm-t88"\n'
        f'port = "127.0.0.1:{port}"\nlane = "1"\nstore_name = "一号店"\nlanguage = "{language}"\n'
        "poll_interval_s = 0.05\n"
    )


@contextmanager
def printing_lane(
    tmp_path: Path, broker: Broker, language: str = "zh"
) -> Iterator[tuple[Edge, PrinterSim, SimLoop]]:
    """A gateway (not started) whose lane 1 prints on a simulated TCP printer; both stopped
    afterwards."""
    sims = SimLoop()
    printer = PrinterSim(columns=48)
    _, port = sims.run(printer.start())
    data = tmp_path / "edge"
    write_snapshots(data, "s1")
    (data / "devices.toml").write_text(_printer_toml(port, language), "utf-8")
    edge = Edge(data, "s1", "g1", broker.url)
    try:
        yield edge, printer, sims
    finally:
        edge.stop()
        sims.run(printer.stop())
        sims.stop()


def printer_online(edge: Edge) -> None:
    wait_until(lambda: edge.http.get("/api/devices").json()["devices"][0]["state"] == "online",
               10, what="printer online")  # fmt: skip


WORDS = {  # what each printed line must say, per the store's language
    "zh": ["Z 报表（结班）", "销售笔数 2", "退货笔数 1", "现金 18.00", "银行卡 20.00",
           "备用金 100.00", "应有现金 118.00", "实点 现金 117.50", "差额 现金 -0.50",
           "实点 银行卡 未清点"],
    "en": ["Z REPORT (shift close)", "Sales 2", "Refunds 1", "Cash 18.00", "Card 20.00",
           "Float 100.00", "Cash expected 118.00", "Counted Cash 117.50", "Difference Cash -0.50",
           "Counted Card not counted"],
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh", "en"])
def test_closing_prints_the_z_report_on_the_lanes_printer(
    tmp_path: Path, broker: Broker, language: str
):
    """Cash and card sales, a cash refund (its slip prints too), an X report on demand, then the
    close: the Z report's bytes reach the simulated TCP printer with the totals per tender, the
    counts, the float, the counted cash and the difference, in the store's language; its job was
    committed with the `shift.closed` event."""
    with printing_lane(tmp_path, broker, language) as (edge, printer, _):
        data = edge.data_dir
        (data / "payments.toml").write_text('external_tenders = ["card"]\n', "utf-8")
        edge.start()
        http = edge.http
        printer_online(edge)
        opened = http.post("/api/lanes/1/shifts/open", json={"cashier": "张丽", "float_fen": 10000})
        assert opened.status_code == 201
        cash = http.post("/api/lanes/1/sales", json=sale([{"tender": "cash", "amount_fen": 5000}]))
        card = http.post("/api/lanes/1/sales", json=sale([{"tender": "card", "amount_fen": 2000}]))
        assert cash.status_code == card.status_code == 201, card.text
        refund = {"cashier": "张丽", "sale_id": cash.json()["sale_id"], "reason": "破损",
                  "lines": [{"sku": WATER, "qty_milli": 1000, "amount_fen": 200}],
                  "payments": [{"tender": "cash", "amount_fen": 200}]}  # fmt: skip
        assert http.post("/api/lanes/1/refunds", json=refund).status_code == 201
        wait_until(lambda: len(printer.receipts) == 3, 10, what="2 receipts and a slip")
        slip = printer.receipts[2].text
        assert ("退货单" if language == "zh" else "REFUND") in slip and "农夫山泉" in slip
        assert "-2.00" in slip

        x = http.post("/api/lanes/1/shifts/current/print")
        assert x.status_code == 200 and x.json()["expected_cash_fen"] == 11800
        wait_until(lambda: len(printer.receipts) == 4, 10, what="the X report")
        assert ("X 报表" if language == "zh" else "X REPORT") in printer.receipts[3].text

        z = http.post("/api/lanes/1/shifts/current/close", json={"counted": {"cash": 11750}})
        assert z.status_code == 201, z.text
        wait_until(lambda: len(printer.receipts) == 5, 10, what="the Z report")
        lines = [" ".join(ln.split()) for ln in printer.receipts[4].text.splitlines()]
        for words in WORDS[language]:
            assert words in lines, (words, lines)
        event_id = z.json()["journal"]["id"]

        def report_printed() -> bool:
            jobs = http.post("/api/devices/p1/jobs", json={}).json()["result"]["jobs"]
            return any(j["sale_id"] == event_id and j["state"] == "printed" for j in jobs)

        wait_until(report_printed, 10, what="the Z report's job printed")
    with sqlite3.connect(data / "journal.db") as db:
        jobs = db.execute("SELECT kind, state FROM print_jobs WHERE sale_id = ?", (event_id,))
        assert jobs.fetchall() == [("report", "printed")]  # keyed by the shift.closed event


def test_another_stores_sale_refunded_offline_prints_its_slip_with_the_catalogs_names(
    tmp_path: Path, broker: Broker
):
    """A sale this journal does not hold (made at another store; the hub away, within the
    store's offline cap): its slip names the lines from the catalog held, not by SKU."""
    with printing_lane(tmp_path, broker) as (edge, printer, _):
        edge.env["STOREGW_OFFLINE_REFUND_CAP_FEN"] = "1000"
        edge.start()
        printer_online(edge)
        refund = {"cashier": "张丽", "sale_id": new_id(), "reason": "破损",
                  "lines": [{"sku": WATER, "qty_milli": 1000, "amount_fen": 200}],
                  "payments": [{"tender": "cash", "amount_fen": 200}]}  # fmt: skip
        r = edge.http.post("/api/lanes/1/refunds", json=refund)
        assert r.status_code == 201, r.text
        wait_until(lambda: len(printer.receipts) == 1, 10, what="the slip")
        slip = printer.receipts[0].text
        assert "退货单" in slip and "农夫山泉" in slip and "-2.00" in slip


@pytest.mark.slow
def test_the_z_report_survives_a_crash_with_the_printer_off(tmp_path: Path, broker: Broker):
    """The printer is off when the shift closes and the gateway is killed right after: the Z
    report's job was committed with `shift.closed`, so the restarted gateway prints it once."""
    with printing_lane(tmp_path, broker) as (edge, printer, sims):

        def printer_state() -> str:
            return edge.http.get("/api/devices").json()["devices"][0]["state"]

        edge.start()
        printer_online(edge)
        shift = {"cashier": "张丽", "float_fen": 10000}
        assert edge.http.post("/api/lanes/1/shifts/open", json=shift).status_code == 201
        assert edge.http.post("/api/lanes/1/sales", json=sale()).status_code == 201
        wait_until(lambda: len(printer.receipts) == 1, 10, what="the sale's receipt")
        sims.run(printer.stop())  # the printer is switched off
        wait_until(lambda: printer_state() == "unavailable", 15, what="printer unavailable")
        z = edge.http.post("/api/lanes/1/shifts/current/close", json={"counted": {"cash": 12000}})
        assert z.status_code == 201, z.text
        edge.kill()  # SIGKILL: no cleanup
        sims.run(printer.power_on())
        edge.start()
        wait_until(lambda: len(printer.receipts) == 2, 20, what="the Z report after the restart")
        lines = [" ".join(ln.split()) for ln in printer.receipts[1].text.splitlines()]
        assert "Z 报表（结班）" in lines and "差额 现金 0.00" in lines, lines
        assert edge.http.get("/api/lanes/1/shifts/current").status_code == 404  # closed with it
    assert len(printer.receipts) == 2  # the Z report once
