"""The whole chain for loyalty, with real processes: Mosquitto, the hub and two gateways started
through the CLI. Snapshots travel retained to the stores and are swapped in; lanes look up and
register members, check coupons and pay with points over the MQTT request/response path; the
points follow the member from one store to the other; a gateway restarted without hub or
broker still sells with the snapshots it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rig import chain_setup
from rig.chain_setup import held
from tests.conftest import Broker, Edge, Hub, wait_until

pytestmark = pytest.mark.slow


def sent(hub: Hub, store: str) -> dict[str, int]:
    """The hub's newest version of each snapshot of the store; all of them published."""
    snaps = hub.http.get(f"/api/stores/{store}/snapshots").json()["snapshots"]
    unsent = [k for k, v in snaps.items() if v["published_at"] is None]
    assert not unsent, f"{store}: built, never published: {unsent}"
    return {k: v["version"] for k, v in snaps.items()}


def points_of(hub: Hub, member: str) -> dict[str, Any]:
    return hub.http.get(f"/api/members/{member}/points").json()


def test_snapshots_and_loyalty_across_two_stores(
    tmp_path: Path, broker: Broker, hub_db_url: str | None
):
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    hub.start()
    a = Edge(tmp_path / "a", "s1", "g1", broker.url)
    b = Edge(tmp_path / "b", "s2", "g1", broker.url)
    try:
        api = hub.http
        chain_setup.seed(hub, ("s1", "s2"), (("normal", 0, 100, 0), ("silver", 1, 95, 50000)))
        assert api.put("/api/stores/s2/prices/6901028075015", json={"price_fen": 180}).is_success
        # The hub's snapshot job (when it connects, then every 10 s) may have built and sent
        # some versions before this call: what the call builds it sends, and nothing is left
        # unsent, whichever of the two came first.
        published = chain_setup.publish(hub)
        assert published["published"] == len(published["new_versions"])
        newest = {store: sent(hub, store) for store in ("s1", "s2")}
        assert (
            set(newest["s1"]) == set(newest["s2"]) == {"catalog", "prices", "promotions", "tiers"}
        )
        a.start()
        b.start()
        # retained: the gateways get them although they connected after the publish
        wait_until(lambda: held(a) == newest["s1"], 20, what="s1 snapshots")
        wait_until(lambda: held(b) == newest["s2"], 20, what="s2 snapshots")
        assert (tmp_path / "b" / "snapshots" / "prices.json").exists()
        # a price change makes a new version of the prices only (built by this call, or by the
        # scheduled job just before it)
        prices = newest["s2"]["prices"] + 1
        assert api.put("/api/stores/s2/prices/6901028075015", json={"price_fen": 170}).is_success
        published = api.post("/api/catalog/publish", json={"stores": ["s2"]}).json()
        assert published["new_versions"] in (
            [],
            [{"store": "s2", "kind": "prices", "version": prices}],
        )
        assert published["published"] == len(published["new_versions"])
        wait_until(lambda: held(b) == {**newest["s2"], "prices": prices}, 20, what="s2 new prices")

        def hub_sees_held() -> bool:
            snap = api.get("/api/stores/s2/snapshots").json()["snapshots"]["prices"]
            return snap["version"] == prices and snap["gateways"] == {"g1": prices}

        wait_until(hub_sees_held, 20, what="hub to see s2's held versions")

        # a member registers at a lane in s1, and is found by phone in s2
        reg = a.http.post("/api/members", json={"phone": "13812345678", "name": "周杰"})
        assert reg.status_code == 201, reg.text
        member = reg.json()["member_id"]
        assert reg.json()["tier"] == "normal" and reg.json()["phone"] == "138****5678"
        found = b.http.get("/api/members/lookup", params={"phone": "138 1234 5678"})
        assert found.status_code == 200 and found.json()["member_id"] == member
        missing = b.http.get("/api/members/lookup", params={"phone": "13800000000"})
        assert missing.status_code == 404
        bad = b.http.get("/api/members/lookup")
        assert bad.status_code == 400

        # s1 sells 600 yuan to the member: 600 points, silver
        sale = {
            "cashier": "张丽",
            "member_id": member,
            "lines": [{"sku": "X", "name": "礼盒", "qty_milli": 1000, "unit_price_fen": 60000}],
            "payments": [{"tender": "cash", "amount_fen": 60000}],
        }
        assert a.http.post("/api/lanes/1/sales", json=sale).status_code == 201
        wait_until(lambda: points_of(hub, member)["balance"] == 600, 20, what="points earned")

        # s2 takes 300 of them as payment: reserve, sell, commit
        held_pts = b.http.post(
            "/api/lanes/2/points/reserve", json={"member_id": member, "points": 300}
        )
        assert held_pts.status_code == 201, held_pts.text
        rid = held_pts.json()["reservation_id"]
        assert held_pts.json()["value_fen"] == 300 and held_pts.json()["available"] == 300
        too_much = b.http.post(
            "/api/lanes/2/points/reserve", json={"member_id": member, "points": 301}
        )
        assert too_much.status_code == 409
        pay = {
            "cashier": "李娜",
            "member_id": member,
            "points_reservation": rid,
            "lines": [
                {
                    "sku": "6901028075015",
                    "name": "农夫山泉",
                    "qty_milli": 3000,
                    "unit_price_fen": 170,
                }
            ],
            "payments": [
                {"tender": "points", "amount_fen": 300, "ref": rid},
                {"tender": "cash", "amount_fen": 300},
            ],
        }
        r = b.http.post("/api/lanes/2/sales", json=pay)
        assert r.status_code == 201, r.text
        sale_id = r.json()["sale_id"]
        done = b.http.post(f"/api/lanes/2/points/{rid}/commit", json={"sale_id": sale_id})
        assert done.status_code == 200 and done.json()["status"] == "committed"
        # 600 - 300 + 2 (the 2.10 yuan paid in cash earns 2 points), once, whatever the order
        wait_until(
            lambda: points_of(hub, member) == {**points_of(hub, member), "balance": 302, "held": 0},
            20,
            what="points spent once",
        )
        released = b.http.post(f"/api/lanes/2/points/{rid}/release")
        assert released.status_code == 409  # spent is spent

        # coupon check at the lane uses the hub's rules
        tpl = api.post(
            "/api/coupons/templates",
            json={
                "name": "满5减1",
                "kind": "threshold",
                "amount_fen": 100,
                "threshold_fen": 500,
                "valid_days": 7,
            },
        ).json()
        issued = api.post(
            f"/api/coupons/templates/{tpl['id']}/issue", json={"member_ids": [member]}
        ).json()
        code = issued["issued"][0]["code"]
        basket = [{"sku": "X", "total_fen": 600}]
        ok = b.http.post(
            "/api/coupons/check", json={"code": code.lower(), "member_id": member, "lines": basket}
        )
        assert ok.status_code == 200 and ok.json()["ok"] and ok.json()["discount_fen"] == 100
        typo = code[:-1] + ("0" if code[-1] != "0" else "1")
        assert b.http.post("/api/coupons/check", json={"code": typo}).status_code == 409

        view = api.get(f"/api/members/{member}/360").json()
        assert view["tier"]["code"] == "silver"
        assert {x["store"] for x in view["purchases"]["by_store"]} == {"s1", "s2"}
        assert view["points"]["balance"] == 302 and len(view["coupons"]["usable"]) == 1
        assert api.get("/api/points/books").json()["balanced"]

        # the hub and the broker go away; s2's gateway restarts: it still has its snapshots
        hub.stop()
        broker.stop()
        b.stop()
        b.start()
        snaps = b.http.get("/api/snapshots").json()["snapshots"]
        assert snaps["prices"]["version"] == prices
        assert snaps["prices"]["received_at"] == "from disk"
        r = b.http.get("/api/members/lookup", params={"phone": "13812345678"})
        assert r.status_code == 503  # online loyalty says plainly it is offline
    finally:
        a.stop()
        b.stop()
        hub.stop()
