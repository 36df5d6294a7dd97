"""QR payments through the lane API against the aggregator simulator over HTTPS (a self-signed
CA file the client trusts): every aggregator outcome, double submission, cancel, reversal of a
payment no sale took, split settlement in the order."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from edge.sim.aggregator import AggregatorSim
from tests.edge.rig import CODE, Rig, agg_toml, run, until


async def pay(
    rig: Rig, key: str, amount: int = 2350, code: str = CODE, **kw: Any
) -> tuple[int, Any]:
    body = {"key": key, "method": "wechat", "amount_fen": amount, "auth_code": code, **kw}
    return await rig.call("POST", "/api/lanes/1/payments", body)


def with_sim(tmp_path: Path, test: Any, **sim_kw: Any) -> None:
    async def main() -> None:
        sim = AggregatorSim(**sim_kw)
        await sim.start()
        try:
            async with Rig(tmp_path / "gw", agg_toml(sim)) as rig:
                await test(rig, sim)
        finally:
            await sim.stop()

    run(main())


def test_success_carries_split_settlement(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        status, body = await pay(rig, "lane1-0001")
        assert status == 201, body
        p = body["payment"]
        assert p["state"] == "approved" and p["provider_ref"].startswith("T")
        assert p["auth_code"] == "1345**********6789"  # the bearer code is never stored whole
        assert p["detail"]["channel"] == "wechat"
        assert sim.charged("lane1-0001") == 2350
        order = sim.orders["lane1-0001"].body
        assert order["sub_merchant_id"] == "SUB-S001" and order["store_id"] == "S001"
        assert order["profit_sharing"]["receivers"] == [
            {"role": "store", "sub_merchant_id": "SUB-S001", "amount_fen": 2279},
            {"role": "hq", "merchant_id": "HQ-1", "amount_fen": 71},
        ]
        status, body = await rig.call("GET", "/api/payments/lane1-0001")
        assert [s for s, _ in body["history"]] == ["started", "started", "approved"]

    with_sim(tmp_path, t)


def test_customer_confirming_then_paid(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        events = rig.ctx.lanes.subscribe("1")
        status, body = await pay(rig, "lane1-0002")
        assert status == 201 and body["payment"]["state"] == "approved"
        assert sim.requests.count(("/v1/query", "lane1-0002")) == 2
        states = []
        while not events.empty():
            states.append(events.get_nowait()["state"])
        assert "awaiting_customer" in states and states[-1] == "approved"

    with_sim(tmp_path, t, behaviour="confirming", confirm_after=2)


def test_customer_never_confirms_so_the_order_is_reversed(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        status, body = await pay(rig, "lane1-0003")
        assert status == 201 and body["payment"]["state"] == "reversed"
        assert sim.orders["lane1-0003"].state == "CLOSED" and sim.charged_fen == 0
        # the customer confirms too late: the closed order cannot take money
        status, body = await pay(rig, "lane1-0003")
        assert status == 200 and body["payment"]["state"] == "reversed"
        assert sim.requests.count(("/v1/pay", "lane1-0003")) == 1

    with_sim(tmp_path, t, behaviour="confirming", confirm_after=None)


def test_insufficient_funds_is_declined(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        status, body = await pay(rig, "lane1-0004")
        assert status == 201 and body["payment"]["state"] == "declined"
        assert "余额不足" in body["payment"]["reason"]
        assert sim.charged_fen == 0 and ("/v1/reverse", "lane1-0004") not in sim.requests

    with_sim(tmp_path, t, behaviour="insufficient_funds")


def test_timeout_queries_then_closes_the_order(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        status, body = await pay(rig, "lane1-0005")
        assert status == 201 and body["payment"]["state"] == "reversed"
        assert ("/v1/query", "lane1-0005") in sim.requests
        assert sim.orders["lane1-0005"].state == "CLOSED" and sim.charged_fen == 0

    with_sim(tmp_path, t, behaviour="timeout")


def test_response_lost_after_taking_the_money_is_found_by_query(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        status, body = await pay(rig, "lane1-0006")
        assert status == 201 and body["payment"]["state"] == "approved"
        assert sim.charged("lane1-0006") == 2350  # once
        status, body = await rig.call("GET", "/api/payments/lane1-0006")
        assert [s for s, _ in body["history"]][-2:] == ["unknown", "approved"]

    with_sim(tmp_path, t, behaviour="lose_response")


def test_reversal_repeated_while_the_aggregator_asks_for_a_recall(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        _, body = await pay(rig, "lane1-0007")
        assert body["payment"]["state"] == "approved"
        status, body = await rig.call("POST", "/api/payments/lane1-0007/reverse",
                                      {"reason": "customer changed their mind"})  # fmt: skip
        assert status == 200 and body["payment"]["state"] == "reversed"
        assert sim.requests.count(("/v1/reverse", "lane1-0007")) == 3
        assert sim.charged("lane1-0007") == 0
        # reversing twice, or a final payment, is refused
        status, _ = await rig.call("POST", "/api/payments/lane1-0007/reverse", {})
        assert status == 409

    with_sim(tmp_path, t, reverse_recalls=2)


def test_reversal_refused_stays_unknown_for_the_technician(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        await pay(rig, "lane1-0008")
        status, body = await rig.call("POST", "/api/payments/lane1-0008/reverse", {})
        assert status == 200 and body["payment"]["state"] == "unknown"
        assert "撤销" in body["payment"]["reason"]
        assert sim.charged("lane1-0008") == 2350

    with_sim(tmp_path, t, reverse_fails=True)


def test_double_submitted_payment_charges_once(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        results = await asyncio.gather(*(pay(rig, "lane1-0009") for _ in range(5)))
        assert sorted(s for s, _ in results) == [200, 200, 200, 200, 201]
        assert {b["payment"]["state"] for _, b in results} == {"approved"}
        assert sim.requests.count(("/v1/pay", "lane1-0009")) == 1
        assert sim.charged_fen == 2350
        # the same key for another amount is a mistake, not a new payment
        status, body = await pay(rig, "lane1-0009", amount=999)
        assert status == 409 and "already" in body["error"]
        assert sim.charged_fen == 2350

    with_sim(tmp_path, t, behaviour="confirming", confirm_after=1)


def test_cashier_cancels_while_the_customer_confirms(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        status, body = await pay(rig, "lane1-0010", wait_s=0)
        assert status == 202 and body["payment"]["state"] in ("started", "awaiting_customer")
        await until(lambda: sim.orders.get("lane1-0010"))
        status, body = await rig.call("POST", "/api/payments/lane1-0010/cancel")
        assert status == 200 and body["payment"]["state"] == "reversed"
        assert "cashier" in body["payment"]["reason"] and sim.charged_fen == 0

    with_sim(tmp_path, t, behaviour="confirming", confirm_after=None)


def test_bad_requests_are_refused_clearly(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"method": "wechat", "amount_fen": 100, "auth_code": CODE}, "key"),
            ({"key": "k-0000001", "method": "wechat", "amount_fen": 1.5, "auth_code": CODE},
             "amount_fen"),
            ({"key": "k-0000001", "method": "wechat", "amount_fen": 100, "auth_code": "12"},
             "auth_code"),
            ({"key": "k-0000001", "method": "bitcoin", "amount_fen": 100}, "method"),
        ]  # fmt: skip
        for body, word in cases:
            status, reply = await rig.call("POST", "/api/lanes/1/payments", body)
            assert status == 400 and word in reply["error"], reply
        status, reply = await rig.call("POST", "/api/lanes/1/payments", "not an object")
        assert status == 400
        status, _ = await rig.call("GET", "/api/payments/nope")
        assert status == 404
        assert sim.requests == [("/v1/query", "storegw-probe")] * len(sim.requests)

    with_sim(tmp_path, t)


def test_unclaimed_approval_is_reversed_and_a_claimed_one_is_kept(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        rig.payments.unclaimed_reverse_after_s = 0.0
        await pay(rig, "lane1-0011")
        await pay(rig, "lane1-0012")
        line = {"sku": "1", "name": "可乐", "qty_milli": 1000, "unit_price_fen": 2350}
        paid = {"tender": "wechat", "amount_fen": 2350, "ref": "lane1-0012"}
        sale = {"cashier": "张丽", "lines": [line], "payments": [paid]}
        status, body = await rig.call("POST", "/api/lanes/1/sales", sale)
        assert status == 201
        rig.payments.sweep()
        store = rig.payments.store
        await until(lambda: store.get("lane1-0011").state == "reversed")  # type: ignore[union-attr]
        kept = rig.payments.store.get("lane1-0012")
        assert kept is not None and kept.state == "approved" and kept.sale_id == body["sale_id"]
        assert sim.charged_fen == 2350
        status, body = await rig.call("GET", "/api/lanes/1/payments?unclaimed=1")
        assert body["payments"] == []

    with_sim(tmp_path, t)


def test_cash_tender_change_and_rounding(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        rig.payments.cash_rounding = "jiao_down"
        body = {"key": "cash-0001", "method": "cash", "amount_fen": 1237, "tendered_fen": 2000}
        status, reply = await rig.call("POST", "/api/lanes/1/payments", body)
        assert status == 201
        d = reply["payment"]["detail"]
        assert (d["change_fen"], d["rounding_fen"], d["taken_fen"]) == (770, 7, 1230)
        status, reply = await rig.call("POST", "/api/lanes/1/payments", body)
        assert status == 200 and reply["created"] is False

    with_sim(tmp_path, t)


def test_test_payment_action_is_reversed_at_once(tmp_path: Path) -> None:
    async def t(rig: Rig, sim: AggregatorSim) -> None:
        await rig.online("agg")
        status, body = await rig.call("POST", "/api/devices/agg/test-payment",
                                      {"auth_code": CODE, "amount_fen": 1})  # fmt: skip
        assert status == 200 and body["result"]["payment"]["state"] == "reversed"
        assert body["result"]["payment"]["test"] is True and sim.charged_fen == 0
        status, body = await rig.call("POST", "/api/devices/agg/test-payment", {})
        assert status == 409 and "auth_code" in body["error"]
        status, body = await rig.call("GET", "/api/devices/agg")
        assert "api_key" not in str(body) and sim.api_key not in str(body)

    with_sim(tmp_path, t)


def test_reversal_after_a_cancel_keeps_its_back_off(tmp_path: Path) -> None:
    """The aggregator asks for a recall twice: after the cashier's cancel the reversals are
    still spaced by reverse_interval_s, so its retry limit is not spent in a burst."""

    async def main() -> None:
        sim = AggregatorSim(behaviour="confirming", confirm_after=None, reverse_recalls=2)
        await sim.start()
        toml = agg_toml(sim).replace("reverse_interval_s = 0.05", "reverse_interval_s = 0.2")
        try:
            async with Rig(tmp_path / "gw", toml) as rig:
                await pay(rig, "lane1-0013", wait_s=0)
                await until(lambda: sim.orders.get("lane1-0013"))
                status, body = await rig.call("POST", "/api/payments/lane1-0013/cancel")
                assert status == 200 and body["payment"]["state"] == "reversed"
                times = [t for (path, _), t in zip(sim.requests, sim.request_times, strict=True)
                         if path == "/v1/reverse"]  # fmt: skip
                assert len(times) == 3
                gaps = [b - a for a, b in itertools.pairwise(times)]
                assert min(gaps) >= 0.18, gaps
        finally:
            await sim.stop()

    run(main())
