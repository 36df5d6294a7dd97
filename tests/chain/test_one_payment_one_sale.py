"""One payment pays one sale, and only if it was really taken: on the real gateway process
with the aggregator simulator (HTTPS), a sale is refused (409, nothing booked, nothing sent to
the hub) when its payment ref is unknown, reversed or already another sale's, and when the
sweep is giving the payment back. Idempotent retries of a booked sale still succeed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from edge.payments import Payments
from edge.sim.aggregator import AggregatorSim
from tests.conftest import Broker, Edge, Hub, wait_until
from tests.edge.payments.procs import SimThread, pay, payment, sale_of, sell
from tests.edge.rig import CODE, Rig, agg_toml, run


def wechat(key: str, amount: int = 4301) -> dict[str, object]:
    return {"key": key, "method": "wechat", "amount_fen": amount, "auth_code": CODE}


def test_one_payment_pays_one_sale(tmp_path: Path, broker: Broker, hub_db_url: str | None):
    agg = SimThread(AggregatorSim())
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    hub.start()
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(agg_toml(agg.sim), "utf-8")
    edge = Edge(data, "S001", "G1", broker.url)
    edge.start()
    try:
        assert pay(edge, wechat("lane1-wx-0001")).json()["payment"]["state"] == "approved"
        paid = [{"tender": "wechat", "amount_fen": 4301, "ref": "lane1-wx-0001"}]
        first = sell(edge, "sale-0001", sale_of(4301, paid))
        assert first.status_code == 201, first.text
        # the lane's retry of the same sale (its answer was lost) is the same sale
        again = sell(edge, "sale-0001", sale_of(4301, paid))
        assert again.status_code == 200 and again.json()["sale_id"] == first.json()["sale_id"]
        # the same payment for a second sale
        second = sell(edge, "sale-0002", sale_of(4301, paid))
        assert second.status_code == 409, second.text
        assert f"already pays sale {first.json()['sale_id']}" in second.json()["error"]

        # a payment given back before the sale is booked
        assert pay(edge, wechat("lane1-wx-0002")).status_code == 201
        r = edge.http.post("/api/payments/lane1-wx-0002/reverse", json={"reason": "changed mind"})
        assert r.json()["payment"]["state"] == "reversed"
        refused = sell(edge, "sale-0003", sale_of(4301, [{**paid[0], "ref": "lane1-wx-0002"}]))
        assert refused.status_code == 409 and "reversed" in refused.json()["error"]

        # a payment never taken through the gateway, or none named at all
        never = sell(edge, "sale-0004", sale_of(4301, [{**paid[0], "ref": "wx-never-paid"}]))
        assert never.status_code == 409 and "not taken through this gateway" in never.text
        bare = sell(edge, "sale-0005", sale_of(4301, [{"tender": "card", "amount_fen": 4301}]))
        assert bare.status_code == 409 and "must name the payment" in bare.text
        # a payment of another amount than the sale books
        assert pay(edge, wechat("lane1-wx-0003", 999)).status_code == 201
        short = sell(edge, "sale-0006", sale_of(4301, [{**paid[0], "ref": "lane1-wx-0003"}]))
        assert short.status_code == 409 and "took 999 fen" in short.text
        # cash needs no gateway payment
        cash = sell(edge, "sale-0007", sale_of(4301, [{"tender": "cash", "amount_fen": 5000}]))
        assert cash.status_code == 201

        assert edge.journal()["last_seq"] == 2  # nothing refused was journaled
        wait_until(lambda: len(hub.sale_ids("S001")) == 2, 30, what="the hub has both sales")
        booked = [hub.http.get(f"/api/sales/{i}").json() for i in hub.sale_ids("S001")]
        wechat_booked = sum(p["amount_fen"] for s in booked for p in s["payments"]
                            if p["tender"] == "wechat")  # fmt: skip
        # booked vs charged: the aggregator holds 4301 (sale 1) and 999 (not yet given back)
        assert wechat_booked == 4301 and agg.sim.charged_fen == 4301 + 999
        assert payment(edge, "lane1-wx-0001")["sale_id"] == first.json()["sale_id"]
    finally:
        edge.stop()
        hub.stop()
        agg.stop()


@pytest.mark.slow
def test_the_sweep_claims_before_it_reverses(tmp_path: Path, broker: Broker):
    """Approved payments no sale takes within `unclaimed_reverse_after_s` are given back; a lane
    booking its sale while the sweep reverses either wins (the sweep leaves it) or is refused
    (the money goes back): never both. Booked equals charged."""
    agg = SimThread(AggregatorSim(reverse_recalls=1))  # each reversal takes a while
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(agg_toml(agg.sim), "utf-8")
    (data / "payments.toml").write_text(
        "unclaimed_reverse_after_s = 1.0\nresolve_interval_s = 0.05\n", "utf-8"
    )
    edge = Edge(data, "S001", "G1", broker.url)
    edge.start()
    n = 16
    keys = [f"lane1-sweep-{i:04d}" for i in range(n)]
    try:
        for i, key in enumerate(keys):
            assert pay(edge, wechat(key, 1000 + i)).json()["payment"]["state"] == "approved"
        # the lanes come back (all at once) while the sweep is giving the payments back
        half = keys[n // 2]
        wait_until(lambda: payment(edge, half)["state"] in ("reversing", "reversed"), 20,
                   0.01, what="the sweep reversing")  # fmt: skip

        def book(i: int) -> httpx.Response:
            key = keys[i]
            body = sale_of(1000 + i, [{"tender": "wechat", "amount_fen": 1000 + i, "ref": key}])
            return sell(edge, f"sale-{key}", body)

        with ThreadPoolExecutor(8) as pool:
            answers = dict(zip(keys, pool.map(book, range(n)), strict=True))
        for key in keys:
            wait_until(lambda k=key: payment(edge, k)["state"] in ("approved", "reversed"), 20,
                       what=f"{key} settled")  # fmt: skip
        booked = 0
        for i, key in enumerate(keys):
            p, status = payment(edge, key), answers[key].status_code
            if status == 201:
                assert p["state"] == "approved" and p["sale_id"] == answers[key].json()["sale_id"]
                booked += 1000 + i
            else:
                assert status == 409 and p["state"] == "reversed" and p["sale_id"] is None
        assert agg.sim.charged_fen == booked  # payments booked vs charged
        # those the sweep had claimed before the sale came were refused
        assert answers[keys[0]].status_code == 409 and answers[half].status_code == 409
        print(f"sweep race: {sum(a.status_code == 201 for a in answers.values())}/{n} booked, "
              f"{booked} fen booked, {agg.sim.charged_fen} fen charged")  # fmt: skip
    finally:
        edge.stop()
        agg.stop()


def test_the_cashier_is_told_and_the_store_policy_decides_external_tenders(
    tmp_path: Path,
) -> None:
    """No payment devices: a card sale with no gateway payment is refused and the lane's bus
    says why; a store that declares `card` external books it, yet a ref naming a gateway
    payment is still claimed (a cash attempt cannot pay as card, nor twice)."""

    async def main() -> None:
        async with Rig(tmp_path / "gw") as rig:
            events = rig.ctx.lanes.subscribe("1")
            card_only = sale_of(4301, [{"tender": "card", "amount_fen": 4301}])
            status, body = await rig.call("POST", "/api/lanes/1/sales", card_only)
            assert status == 409 and "must name the payment" in body["error"]
            told = events.get_nowait()
            assert told["type"] == "sale.refused" and told["reason"] == body["error"]

        external = tmp_path / "external"
        external.mkdir()
        (external / "payments.toml").write_text('external_tenders = ["card"]\n', "utf-8")
        async with Rig(external) as rig:
            assert rig.payments.external_tenders == {"card"}
            status, _ = await rig.call("POST", "/api/lanes/1/sales", card_only)
            assert status == 201
            cash = {"key": "cash-0042", "method": "cash", "amount_fen": 4301}
            assert (await rig.call("POST", "/api/lanes/1/payments", cash))[0] == 201
            as_card = sale_of(4301, [{"tender": "card", "amount_fen": 4301, "ref": "cash-0042"}])
            status, body = await rig.call("POST", "/api/lanes/1/sales", as_card)
            assert status == 409 and "cash payment, not card" in body["error"]
            in_cash = sale_of(4301, [{"tender": "cash", "amount_fen": 4301, "ref": "cash-0042"}])
            assert (await rig.call("POST", "/api/lanes/1/sales", in_cash))[0] == 201
            status, body = await rig.call("POST", "/api/lanes/1/sales", in_cash)
            assert status == 409 and "already pays sale" in body["error"]

            (external / "payments.toml").write_text('external_tenders = ["bitcoin"]\n')
            with pytest.raises(ValueError, match="external_tenders"):
                Payments(rig.ctx, rig.devices)  # a wrong policy fails at start, not at a sale

    run(main())
