"""Card payments across SIGKILLs of the real gateway process (`storegw edge`) with the ZVT
terminal simulator: every transaction the gateway makes with the terminal is journaled with
its receipt number, so resolving a lost answer never takes the gateway's own reversal (or an
older transaction) for a new approval; what the terminal cannot tell is left to the cashier.
Payments booked by sales equal what the terminal charged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.sim.zvt import ZvtSim
from tests.conftest import Broker, Edge, wait_until
from tests.edge.payments.procs import SimThread, pay, payment, sale_of, sell
from tests.edge.rig import zvt_toml

pytestmark = pytest.mark.slow
AMOUNT = 6604


def card(key: str, **kw: Any) -> dict[str, Any]:
    return {"key": key, "method": "card", "amount_fen": AMOUNT, **kw}


def settled(edge: Edge, key: str) -> dict[str, Any]:
    """Wait until the restarted gateway has resolved `key` (or handed it to the cashier)."""
    return wait_until(
        lambda: (p := payment(edge, key)) and (p["final"] or p["ask_cashier"]) and p,
        30, what=f"{key} resolved\n{edge.tail()}",
    )  # fmt: skip


def test_card_payments_across_gateway_kills(tmp_path: Path, broker: Broker) -> None:
    term = SimThread(ZvtSim())
    sim: ZvtSim = term.sim
    host, port = term.started
    data = tmp_path / "edge"
    data.mkdir()
    # patient timeouts: each kill lands while the gateway waits on the terminal
    toml = zvt_toml(host, port).replace("ack_timeout_s = 0.3", "ack_timeout_s = 30")
    (data / "devices.toml").write_text(
        toml.replace("transaction_timeout_s = 0.6", "transaction_timeout_s = 30"), "utf-8"
    )
    edge = Edge(data, "S001", "G1", broker.url)
    edge.start()
    kills, booked = 0, 0

    def kill_while_holding() -> None:
        nonlocal kills
        wait_until(sim.holding.is_set, 20, 0.01, what="the terminal holding")
        edge.kill()
        kills += 1

    def book(key: str) -> int:
        body = sale_of(AMOUNT, [{"tender": "card", "amount_fen": AMOUNT, "ref": key}])
        return sell(edge, f"sale-{key}", body).status_code

    try:
        # 1. the case: card-A approved (receipt 1) and reversed (reversal receipt 2);
        #    card-B's request is lost on the way and the gateway dies while it is `started`
        a = pay(edge, card("card-A-0001")).json()["payment"]
        assert (a["state"], a["provider_ref"]) == ("approved", "1")
        r = edge.http.post("/api/payments/card-A-0001/reverse", json={"reason": "wrong item"})
        assert r.json()["payment"]["state"] == "reversed"
        assert [(t.receipt_no, t.state) for t in sim.transactions] == [(1, "reversed"),
                                                                      (2, "reversal")]  # fmt: skip
        sim.behaviour = "lose_request"
        assert pay(edge, card("card-B-0001", wait_s=0)).status_code == 202
        kill_while_holding()
        sim.behaviour = "approve"
        edge.start()
        b = settled(edge, "card-B-0001")
        assert b["state"] == "declined" and b["provider_ref"] is None, b
        assert "reversal" in b["reason"]
        same = pay(edge, card("card-B-0001"))  # the lane's same POST after the restart
        assert same.status_code == 200 and same.json()["payment"]["state"] == "declined"
        assert book("card-B-0001") == 409

        # 2. killed while the customer's card is being approved; approved meanwhile
        sim.behaviour = "hold"
        pay(edge, card("card-C-0001", wait_s=0))
        kill_while_holding()
        term.soon(sim.release, True)
        wait_until(lambda: len(sim.transactions) == 3, 10, what="the terminal approving")
        edge.start()
        c = settled(edge, "card-C-0001")
        assert (c["state"], c["provider_ref"]) == ("approved", "3")
        assert book("card-C-0001") == 201
        booked += AMOUNT

        # 3. the same, declined meanwhile
        pay(edge, card("card-D-0001", wait_s=0))
        kill_while_holding()
        term.soon(sim.release, False)
        wait_until(lambda: len(sim.transactions) == 4, 10, what="the terminal declining")
        edge.start()
        assert settled(edge, "card-D-0001")["state"] == "declined"
        assert book("card-D-0001") == 409

        # 4. killed after the approval, before the lane booked the sale: it still can
        sim.behaviour = "approve"
        assert pay(edge, card("card-E-0001")).json()["payment"]["state"] == "approved"
        edge.kill()
        kills += 1
        edge.start()
        assert book("card-E-0001") == 201
        booked += AMOUNT

        # 5. killed in the middle of a reversal (its receipt number never reaches the
        #    gateway), then card-G's request is lost and the gateway killed again: the
        #    terminal's last transaction is that reversal, of the same amount — not ours, but
        #    the gateway cannot prove it, so it asks the cashier instead of guessing
        assert pay(edge, card("card-F-0001")).json()["payment"]["state"] == "approved"
        sim.hold_reversal = True
        try:
            edge.http.post("/api/payments/card-F-0001/reverse", json={}, timeout=1.0)
        except Exception:
            pass
        kill_while_holding()
        term.soon(sim.release, True)
        wait_until(lambda: sim.transactions[-1].state == "reversal", 10, what="reversed")
        sim.hold_reversal = False
        sim.behaviour = "lose_request"
        edge.start()
        assert settled(edge, "card-F-0001")["state"] == "reversed"
        assert pay(edge, card("card-G-0001", wait_s=0)).status_code == 202
        kill_while_holding()
        sim.behaviour = "approve"
        edge.start()
        g = settled(edge, "card-G-0001")
        assert g["state"] == "unknown" and "card-F-0001" in g["ask_cashier"], g
        assert book("card-G-0001") == 409
        # the cashier reads the terminal's journal: nothing was charged for card-G
        r = edge.http.post("/api/payments/card-G-0001/resolve", json={"approved": False})
        assert r.status_code == 200 and r.json()["payment"]["state"] == "declined"

        # payments booked vs charged, across the kills
        assert sim.charged_fen == booked == 2 * AMOUNT
        print(f"card: {kills} gateway kills, {booked} fen booked, {sim.charged_fen} fen charged")
    finally:
        edge.stop()
        term.stop()
