"""Card payments through the lane API against the ZVT terminal simulator over real TCP:
approve, decline, time out, lose the completion, be cancelled; reversal, end-of-day, status and
the test payment."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from edge.sim.zvt import ZvtSim
from protocols.zvt import commands as c
from tests.edge.rig import Rig, run, until, zvt_toml


async def card(rig: Rig, key: str, amount: int = 8800, **kw: Any) -> tuple[int, Any]:
    body = {"key": key, "method": "card", "amount_fen": amount, **kw}
    return await rig.call("POST", "/api/lanes/1/payments", body)


def with_sim(tmp_path: Path, test: Any, **sim_kw: Any) -> None:
    async def main() -> None:
        sim = ZvtSim(**sim_kw)
        host, port = await sim.start()
        try:
            async with Rig(tmp_path / "gw", zvt_toml(host, port)) as rig:
                await test(rig, sim)
        finally:
            await sim.stop()

    run(main())


def test_approved(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: ZvtSim) -> None:
        events = rig.ctx.lanes.subscribe("1")
        status, body = await card(rig, "card-0001")
        assert status == 201, body
        p = body["payment"]
        assert p["state"] == "approved" and p["provider_ref"] == "1"
        assert p["detail"]["terminal"]["pan"] == "6222EEEEEEEE1234"
        assert sim.charged_fen == 8800
        assert sim.commands[:2] == [c.REGISTRATION, c.AUTHORISATION]
        seen = []
        while not events.empty():
            seen.append(events.get_nowait())
        assert any(e.get("text") == "present card" for e in seen)

    with_sim(tmp_path, t)


def test_declined(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: ZvtSim) -> None:
        status, body = await card(rig, "card-0002")
        assert status == 201 and body["payment"]["state"] == "declined"
        assert body["payment"]["reason"] == "insufficient funds"
        assert sim.charged_fen == 0

    with_sim(tmp_path, t, behaviour="decline", decline_code=0x51)


def test_silent_terminal_is_asked_and_nothing_was_taken(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: ZvtSim) -> None:
        status, body = await card(rig, "card-0003")
        assert status == 201 and body["payment"]["state"] == "declined"
        assert c.ECR_ABORT in sim.commands and c.REPEAT_RECEIPT in sim.commands
        status, body = await rig.call("GET", "/api/payments/card-0003")
        assert "unknown" in [s for s, _ in body["history"]]
        assert sim.charged_fen == 0

    with_sim(tmp_path, t, behaviour="timeout")


def test_lost_completion_is_resolved_as_approved(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: ZvtSim) -> None:
        status, body = await card(rig, "card-0004")
        assert status == 201 and body["payment"]["state"] == "approved"
        assert body["payment"]["provider_ref"] == "1"
        assert c.REPEAT_RECEIPT in sim.commands
        assert sim.charged_fen == 8800  # once: no second authorisation
        assert sim.commands.count(c.AUTHORISATION) == 1
        # a later lost answer must not take this approval for its own
        status, body = await card(rig, "card-0005")
        assert body["payment"]["state"] == "approved" and body["payment"]["provider_ref"] == "2"
        sim.behaviour = "timeout"
        status, body = await card(rig, "card-0006")
        assert body["payment"]["state"] == "declined"  # the last approval is card-0005's

    with_sim(tmp_path, t, behaviour="lose_completion")


def test_cashier_cancels_at_the_terminal(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: ZvtSim) -> None:
        rig.devices.by_id["pt"].txn_timeout = 10  # the customer may take long: only cancel ends it
        task = asyncio.create_task(card(rig, "card-0007"))
        await until(lambda: c.AUTHORISATION in sim.commands)
        await until(lambda: "card-0007" in rig.payments._cancel)
        status, body = await rig.call("POST", "/api/payments/card-0007/cancel")
        assert status == 200 and body["payment"]["state"] == "declined"
        assert body["payment"]["reason"] == "cancelled"
        status, body = await task
        assert body["payment"]["state"] == "declined" and sim.charged_fen == 0
        assert sim.transactions[-1].state == "aborted"

    with_sim(tmp_path, t, behaviour="wait")


def test_reversal_end_of_day_status_and_test_payment(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: ZvtSim) -> None:
        await rig.online("pt")
        await card(rig, "card-0008", amount=1200)
        await card(rig, "card-0009", amount=300)
        status, body = await rig.call("POST", "/api/payments/card-0008/reverse")
        assert status == 200 and body["payment"]["state"] == "reversed"
        assert sim.transactions[0].state == "reversed" and sim.charged_fen == 300
        status, body = await rig.call("POST", "/api/devices/pt/end-of-day")
        assert status == 200 and body["result"]["total_fen"] == 300
        status, body = await rig.call("POST", "/api/devices/pt/status")
        assert status == 200 and body["result"]["reachable"]
        status, body = await rig.call("POST", "/api/devices/pt/test-payment", {})
        assert status == 200 and body["result"]["payment"]["state"] == "reversed"
        assert sim.charged_fen == 300
        _, body = await rig.call("GET", "/api/devices")
        assert [d["kind"] for d in body["devices"]] == ["terminal"]

    with_sim(tmp_path, t)


def test_unreachable_terminal_declines_without_taking_anything(tmp_path: Path) -> None:
    async def main() -> None:
        sim = ZvtSim()
        host, port = await sim.start()
        await sim.stop()  # nothing listens there any more
        async with Rig(tmp_path / "gw", zvt_toml(host, port)) as rig:
            status, body = await card(rig, "card-0010")
            assert status == 201 and body["payment"]["state"] == "declined"
            assert "unreachable" in body["payment"]["reason"]

    run(main())


def test_double_submitted_card_payment_authorises_once(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: ZvtSim) -> None:
        results = await asyncio.gather(*(card(rig, "card-0011") for _ in range(4)))
        assert sorted(s for s, _ in results) == [200, 200, 200, 201]
        assert {b["payment"]["state"] for _, b in results} == {"approved"}
        assert sim.commands.count(c.AUTHORISATION) == 1 and sim.charged_fen == 8800

    with_sim(tmp_path, t)
