"""Never lost: a gateway killed with SIGKILL in the middle of a payment resumes on restart —
it asks the aggregator or the terminal what happened, then completes or reverses — so the books
and the customer agree, and the customer is charged at most once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from edge.sim.aggregator import AggregatorSim
from edge.sim.zvt import ZvtSim
from protocols.zvt import commands as c
from tests.edge.rig import CODE, agg_toml, run, until, zvt_toml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


async def runner(data_dir: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.edge.payments.runner", "--data-dir", str(data_dir), *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


async def finish(proc: asyncio.subprocess.Process) -> Any:
    out, err = await asyncio.wait_for(proc.communicate(), 40)
    assert proc.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


def state_on_disk(data_dir: Path, key: str) -> str | None:
    db = sqlite3.connect(f"file:{data_dir / 'journal.db'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT state FROM payment_attempts WHERE key=?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return row[0] if row else None


async def kill_mid_payment(proc: asyncio.subprocess.Process, holding: asyncio.Event) -> None:
    await asyncio.wait_for(holding.wait(), 20)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("paid", [True, False])
def test_qr_payment_killed_mid_request_resumes(tmp_path: Path, paid: bool) -> None:
    data = tmp_path / "gw"
    data.mkdir()
    key = "lane1-crash-qr"
    body = json.dumps({"key": key, "method": "wechat", "amount_fen": 4200, "auth_code": CODE})

    async def main() -> None:
        sim = AggregatorSim(behaviour="hold")
        await sim.start()
        (data / "devices.toml").write_text(agg_toml(sim), "utf-8")
        try:
            proc = await runner(data, "--pay", body)
            await asyncio.wait_for(sim.holding.wait(), 20)
            # written before the request went out
            assert state_on_disk(data, key) == "started"
            await kill_mid_payment(proc, sim.holding)
            sim.release(paid)  # the customer confirms (or not) while the gateway is dead
            await until(lambda: sim.orders[key].state == ("SUCCESS" if paid else "NOTPAY"))
            restarted = await finish(await runner(data, "--resume", key))
            assert restarted == {key: "approved" if paid else "reversed"}
            assert sim.charged_fen == (4200 if paid else 0)
            # the lane, coming back, submits the same key again: no second charge
            again = await finish(await runner(data, "--pay", body))
            assert again["state"] == ("approved" if paid else "reversed")
            assert sim.requests.count(("/v1/pay", key)) == 1
            assert sim.charged_fen == (4200 if paid else 0)
        finally:
            await sim.stop()

    run(main(), 90)


def test_card_payment_killed_mid_authorisation_resumes(tmp_path: Path) -> None:
    data = tmp_path / "gw"
    data.mkdir()
    key = "lane1-crash-card"
    body = json.dumps({"key": key, "method": "card", "amount_fen": 6600})

    async def main() -> None:
        sim = ZvtSim(behaviour="hold")
        host, port = await sim.start()
        (data / "devices.toml").write_text(zvt_toml(host, port), "utf-8")
        try:
            proc = await runner(data, "--pay", body)
            await asyncio.wait_for(sim.holding.wait(), 20)
            assert state_on_disk(data, key) == "started"
            await kill_mid_payment(proc, sim.holding)
            sim.release(approve=True)  # the card was approved; its answer has nowhere to go
            await until(lambda: sim.transactions)
            restarted = await finish(await runner(data, "--resume", key))
            assert restarted == {key: "approved"}
            assert sim.charged_fen == 6600
            assert sim.commands.count(c.AUTHORISATION) == 1
            assert c.REPEAT_RECEIPT in sim.commands
        finally:
            await sim.stop()

    run(main(), 90)


def test_approved_but_unclaimed_after_a_crash_is_reversed(tmp_path: Path) -> None:
    """The books: an approval no sale took up is given back, by the sweep of a restarted
    gateway, once `unclaimed_reverse_after_s` has passed."""
    data = tmp_path / "gw"
    data.mkdir()
    key = "lane1-crash-orphan"
    body = json.dumps({"key": key, "method": "wechat", "amount_fen": 990, "auth_code": CODE})

    async def main() -> None:
        sim = AggregatorSim()
        await sim.start()
        (data / "devices.toml").write_text(agg_toml(sim), "utf-8")
        (data / "payments.toml").write_text(
            "unclaimed_reverse_after_s = 0.0\nresolve_interval_s = 0.05\n", "utf-8"
        )
        try:
            first = await finish(await runner(data, "--pay", body))
            assert first["state"] == "approved" and sim.charged_fen == 990
            # a restarted gateway's sweep finds it (nobody booked a sale with it)
            restarted = await finish(await runner(data, "--resume", key))
            assert restarted == {key: "reversed"} and state_on_disk(data, key) == "reversed"
            assert sim.charged_fen == 0
        finally:
            await sim.stop()

    run(main(), 90)
