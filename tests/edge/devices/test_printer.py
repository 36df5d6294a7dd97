"""The printer driver against the ESC/POS printer simulator over real TCP (and a pty): a
sale's receipt prints exactly once — across a printer outage, a fault mid-job and a gateway
restart — faults are errors shown to the lane, never successes; reprints are marked copies."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest

from edge.sim.printer import PrinterSim
from protocols.escpos.commands import CLEAR_BUFFER
from protocols.escpos.receipt import COPY_MARK
from tests.edge.rig import Rig, run, sale, until


def printer_toml(port: str, profile: str = "epson-tm-t20ii", extra: str = "") -> str:
    return f"""
[[device]]
id = "p1"
kind = "printer"
profile = "{profile}"
port = "{port}"
lane = "1"
store_name = "好邻居便利店"
qr_url = "https://e.example.cn/r/{{sale_id}}"
poll_interval_s = 0.05
timeout_s = 1.0
{extra}
"""


async def _sell(rig: Rig, tender: str = "cash") -> str:
    if tender != "cash":  # a standalone terminal: external by this store's payments policy
        rig.payments.external_tenders = frozenset({tender})
    pay = {"tender": tender, "amount_fen": 5000} if tender == "cash" else {
        "tender": tender, "amount_fen": 2000, "ref": "wx1"}  # fmt: skip
    status, body = await rig.call("POST", "/api/lanes/1/sales", sale([pay]))
    assert status == 201, body
    return str(body["sale_id"])


def _receipts_of(sim: PrinterSim, sale_no: str) -> int:
    return sum(1 for r in sim.receipts if sale_no in r.text)


def test_sale_prints_its_receipt_once_and_opens_the_drawer_for_cash(tmp_path: Path) -> None:
    async def main() -> None:
        sim = PrinterSim(out_dir=tmp_path / "paper")
        host, port = await sim.start()
        async with Rig(tmp_path / "gw", printer_toml(f"{host}:{port}")) as rig:
            await rig.online("p1")
            events = rig.ctx.lanes.subscribe("1")
            sale_id = await _sell(rig, "cash")
            await sim.wait_for(lambda: len(sim.receipts) == 1)
            text = sim.receipts[0].text
            assert "好邻居便利店" in text and "富士苹果" in text and "1.250kg x 12.80/kg" in text
            assert "找零" in text and "王芳 金卡" in text
            assert sim.drawer_pulses and sim.drawer_pulses[0].realtime
            await sim.drawn()
            assert (tmp_path / "paper" / "receipt-0001.png").stat().st_size > 1000
            await until(lambda: rig.devices.by_id["p1"].queue.counts("p1").get("printed") == 1)
            states = []
            while not events.empty():
                states.append(events.get_nowait())
            assert {"type": "printer.job", "state": "printed"}.items() <= next(
                e for e in states if e["type"] == "printer.job").items()  # fmt: skip
            # a non-cash sale prints but leaves the drawer shut
            await _sell(rig, "wechat")
            await sim.wait_for(lambda: len(sim.receipts) == 2)
            assert len(sim.drawer_pulses) == 1
            # the paper is out, but the job is `sending` until the printer's status after it
            # has been read: printed only then
            printer = rig.devices.by_id["p1"]
            await until(lambda: printer.queue.counts("p1") == {"printed": 2}, what="2 printed")
            # GET /api/devices shows the printer, its status and its queue
            _, body = await rig.call("GET", "/api/devices")
            (p,) = [d for d in body["devices"] if d["id"] == "p1"]
            assert p["state"] == "online" and p["printer"]["status"]["ready"] is True
            assert p["printer"]["jobs"] == {"printed": 2}
            # e-receipt previews over the lane API
            async with rig.http.get(f"/api/receipts/{sale_id}.txt") as r:  # type: ignore[union-attr]
                assert r.status == 200 and "好邻居便利店" in await r.text()
            async with rig.http.get(f"/api/receipts/{sale_id}.png") as r:  # type: ignore[union-attr]
                assert r.content_type == "image/png" and (await r.read())[:4] == b"\x89PNG"
        await sim.stop()
        assert len(sim.receipts) == 2

    run(main())


@pytest.mark.parametrize("fault", ["paper_out", "cover_open", "offline"])
def test_each_fault_is_an_error_and_the_receipt_waits_for_the_printer(
    tmp_path: Path, fault: str
) -> None:
    words = {"paper_out": "paper out", "cover_open": "cover open", "offline": "offline"}

    async def main() -> None:
        sim = PrinterSim()
        host, port = await sim.start()
        async with Rig(tmp_path / "gw", printer_toml(f"{host}:{port}")) as rig:
            await rig.online("p1")
            sim.set_state(**{fault: True})
            status, body = await rig.call("POST", "/api/devices/p1/status", {})
            assert status == 409 and words[fault] in body["error"]
            status, body = await rig.call("POST", "/api/devices/p1/test-print", {})
            assert status == 409 and words[fault] in body["error"]
            assert sim.receipts == []
            await _sell(rig, "wechat")
            printer = rig.devices.by_id["p1"]
            await until(lambda: (printer.queue.pending("p1") or [{}])[0].get("error"))
            job = printer.queue.pending("p1")[0]
            assert job["state"] == "queued" and words[fault] in job["error"]
            assert rig.ctx.lanes.last["1"]["type"] in ("printer.job", "printer.status")
            assert sim.receipts == []
            sim.set_state()  # fixed: the queue prints it, once
            await sim.wait_for(lambda: len(sim.receipts) == 1)
            await until(lambda: printer.queue.counts("p1") == {"printed": 1})
            status, body = await rig.call("POST", "/api/devices/p1/status", {})
            assert status == 200 and body["result"]["status"]["ready"]
        await sim.stop()
        assert len(sim.receipts) == 1

    run(main())


@pytest.mark.parametrize("stale", [False, True], ids=["new-roll", "held-data-left"])
def test_paper_running_out_mid_job_reprints_the_job_once_after_clearing(
    tmp_path: Path, stale: bool
) -> None:
    """The gateway told the printer to drop the rest when it saw the fault, so a new roll
    prints nothing by itself; the resend is the one whole receipt. With data the first clear
    did not reach still held (`stale`), the resend's leading DLE DC4 8 drops it too."""

    async def main() -> None:
        sim = PrinterSim()
        host, port = await sim.start()
        async with Rig(tmp_path / "gw", printer_toml(f"{host}:{port}")) as rig:
            await rig.online("p1")
            sim.paper_out_after(5)
            await _sell(rig, "wechat")
            printer = rig.devices.by_id["p1"]
            await until(lambda: printer.queue.counts("p1").get("failed") == 1)
            job = printer.queue.pending("p1")[0]
            assert "paper out" in job["error"] and job["attempts"] == 1
            assert sim.receipts == [] and sim._held == []
            if stale:
                sim._held.append(sim._paper[0])  # something the first clear did not reach
                sim.status = sim.status.__class__()  # ready, without flushing what it holds
            else:
                sim.set_state()
            await sim.wait_for(lambda: len(sim.receipts) >= 1)
            await until(lambda: printer.queue.counts("p1") == {"printed": 1})
            assert len(sim.receipts) == 1 and "好邻居便利店" in sim.receipts[0].text
            assert sim._held == [] and len(sim.torn) == 1  # the half the fault left, torn off
            assert CLEAR_BUFFER.hex() == "10140801031401060208"
        await sim.stop()
        assert len(sim.receipts) == 1

    run(main())


def test_receipt_prints_once_across_a_printer_outage_and_a_gateway_restart(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        sim = PrinterSim()
        host, port = await sim.start()
        toml = printer_toml(f"{host}:{port}")
        async with Rig(tmp_path / "gw", toml) as rig:
            await rig.online("p1")
            first = await _sell(rig, "wechat")
            await sim.wait_for(lambda: len(sim.receipts) == 1)
            await until(lambda: rig.devices.by_id["p1"].queue.counts("p1") == {"printed": 1})
            await sim.stop()  # printer powered off
            await until(lambda: rig.devices.by_id["p1"].state == "unavailable")
            second = await _sell(rig, "wechat")
            assert rig.devices.by_id["p1"].queue.counts("p1") == {"printed": 1, "queued": 1}
        # the gateway stops with the job queued; it comes back, and so does the printer
        await sim.power_on()
        async with Rig(tmp_path / "gw", toml) as rig:
            await rig.online("p1")
            await sim.wait_for(lambda: len(sim.receipts) == 2)
            await until(lambda: rig.devices.by_id["p1"].queue.counts("p1") == {"printed": 2})
            status, body = await rig.call("POST", "/api/devices/p1/test-print", {})
            assert status == 200 and body["result"]["state"] == "printed"
        await sim.stop()
        receipts = [r.text for r in sim.receipts if "好邻居" in r.text]
        assert len(receipts) == 2  # each sale once, none twice
        db = sqlite3.connect(tmp_path / "gw" / "journal.db")
        rows = db.execute("SELECT sale_id, attempts FROM print_jobs WHERE kind='receipt'")
        assert sorted(rows.fetchall()) == sorted([(first, 1), (second, 1)])

    run(main())


def test_job_interrupted_by_a_crash_is_not_resent_by_itself(tmp_path: Path) -> None:
    async def main() -> None:
        sim = PrinterSim()
        host, port = await sim.start()
        toml = printer_toml(f"{host}:{port}")
        async with Rig(tmp_path / "gw", toml) as rig:
            await rig.online("p1")
            await sim.stop()
            await until(lambda: rig.devices.by_id["p1"].state == "unavailable")
            sale_id = await _sell(rig, "wechat")
        # what a SIGKILL between "sending" and "printed" leaves in the database
        db = sqlite3.connect(tmp_path / "gw" / "journal.db")
        db.execute("UPDATE print_jobs SET state='sending', attempts=1")
        db.commit()
        await sim.power_on()
        async with Rig(tmp_path / "gw", toml) as rig:
            await rig.online("p1")
            printer = rig.devices.by_id["p1"]
            assert printer.queue.counts("p1") == {"interrupted": 1}
            await _sell(rig, "wechat")
            await sim.wait_for(lambda: len(sim.receipts) == 1)  # only the new sale's
            # the lane reprints explicitly: marked as a copy
            status, body = await rig.call("POST", f"/api/lanes/1/receipts/{sale_id}/reprint")
            assert status == 200 and body["job"]["copy"] is True
            await sim.wait_for(lambda: len(sim.receipts) == 2)
            assert COPY_MARK in sim.receipts[1].text
            assert COPY_MARK not in sim.receipts[0].text
        await sim.stop()

    run(main())


def test_reprint_preview_jobs_and_drawer_actions(tmp_path: Path) -> None:
    async def main() -> None:
        sim = PrinterSim(columns=32, dots=384, hanzi_default=True)
        host, port = await sim.start()
        async with Rig(tmp_path / "gw", printer_toml(f"{host}:{port}", "xprinter-xp58")) as rig:
            await rig.online("p1")
            sale_id = await _sell(rig, "wechat")
            await sim.wait_for(lambda: len(sim.receipts) == 1)
            status, body = await rig.call("POST", "/api/devices/p1/reprint", {"sale_id": sale_id})
            assert status == 200 and body["result"]["kind"] == "reprint"
            await sim.wait_for(lambda: len(sim.receipts) == 2)
            assert sim.receipts[1].text.count(COPY_MARK) == 2
            status, body = await rig.call("POST", "/api/devices/p1/preview", {"sale_id": sale_id})
            assert status == 200 and "好邻居便利店" in body["result"]["text"]
            png = base64.b64decode(body["result"]["png_base64"])
            assert png[:4] == b"\x89PNG"
            status, body = await rig.call("POST", "/api/devices/p1/jobs", {})
            assert [j["kind"] for j in body["result"]["jobs"]] == ["reprint", "receipt"]
            status, body = await rig.call("POST", "/api/devices/p1/open-drawer", {})
            assert status == 200
            await sim.wait_for(lambda: len(sim.drawer_pulses) == 1)
            status, body = await rig.call("POST", "/api/devices/p1/reprint", {"sale_id": "nope"})
            assert status == 409 and "no receipt" in body["error"]
            status, body = await rig.call("POST", "/api/devices/p1/explode", {})
            assert status == 404
        await sim.stop()

    run(main())


def test_serial_printer_on_a_pty(tmp_path: Path) -> None:
    async def main() -> None:
        sim = PrinterSim(columns=32, dots=384)
        path = await sim.serve_pty()
        try:
            toml = printer_toml(path, "gprinter-gp58", "baudrate = 9600")
            async with Rig(tmp_path / "gw", toml) as rig:
                await rig.online("p1")
                status, body = await rig.call("POST", "/api/devices/p1/test-print", {})
                assert status == 200, body
                assert "打印测试" in sim.receipts[0].text
                sim.set_state(cover_open=True)
                status, body = await rig.call("POST", "/api/devices/p1/status", {})
                assert status == 409 and "cover open" in body["error"]
        finally:
            sim.close_pty()

    run(main())


def test_file_printer_writes_the_receipt_bytes(tmp_path: Path) -> None:
    from protocols.escpos.preview import text_preview

    out = tmp_path / "lp0"
    out.touch()

    async def main() -> None:
        async with Rig(tmp_path / "gw", printer_toml(f"file:{out}", "sunmi-builtin")) as rig:
            await rig.online("p1")
            await _sell(rig, "wechat")
            await until(lambda: rig.devices.by_id["p1"].queue.counts("p1") == {"printed": 1})

    run(main())
    text = text_preview(out.read_bytes(), 48)
    assert "好邻居便利店" in text and "微信支付" in text


def test_a_print_queue_from_before_refund_slips_and_reports_is_widened(tmp_path: Path) -> None:
    """A gateway's `print_jobs` made before the refund and report kinds: rebuilt at start with
    its jobs kept, and its one-receipt-per-sale rule still holds."""
    from edge.devices.print_queue import SCHEMA, PrintQueue
    from edge.journal import JournalDb

    old = SCHEMA.replace(", 'refund', 'report'", "").split("CREATE UNIQUE INDEX IF NOT EXISTS "
                                                          "print_jobs_one_document")[0]  # fmt: skip
    conn = sqlite3.connect(tmp_path / "journal.db", isolation_level=None)
    conn.executescript(old)
    conn.execute("INSERT INTO print_jobs (id, printer, kind, sale_id, data, created_at) "
                 "VALUES ('j1', 'p1', 'receipt', 's1', x'00', 0)")  # fmt: skip
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO print_jobs (id, printer, kind, data, created_at) "
                     "VALUES ('j2', 'p1', 'report', x'00', 0)")  # fmt: skip
    queue = PrintQueue(JournalDb(conn))
    assert queue.add("p1", "report", b"Z", sale_id="e1") and queue.add("p1", "refund", b"R")
    assert queue.add("p1", "report", b"Z", sale_id="e1") is None  # one job per document
    assert queue.add("p1", "receipt", b"again", sale_id="s1") is None  # the old row kept
    assert queue.get("j1")["sale_id"] == "s1"  # type: ignore[index]
    assert PrintQueue(JournalDb(conn)).counts("p1") == {"queued": 3}  # a second start: as is
