"""Points at the lane's basket with the hub and a gateway as processes: redeemed online through
a reservation the sale names; with the hub gone the member is still identified from the
gateway's cache (shown offline), and redemption follows the store's policy — here allowed up to
20 points per member a day — and the hub debits what was redeemed offline when the sale
arrives."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.lane_store import write_snapshots
from tests.conftest import Broker, Edge, Hub, wait_until

pytestmark = pytest.mark.slow

WATER = "6901028075015"


def balance(hub: Hub, member: str) -> int:
    return int(hub.http.get(f"/api/members/{member}/points").json()["balance"])


def test_points_online_then_offline_within_the_store_cap(tmp_path: Path, broker: Broker):
    hub = Hub(tmp_path / "hub", broker.url)
    data = tmp_path / "edge"
    write_snapshots(data, "s1")  # the shop's catalog and 满30减5, as held by the gateway
    (data / "store-policy.toml").write_text('[points]\noffline = "allow"\noffline_cap = 20\n')
    edge = Edge(data, "s1", "g1", broker.url)
    try:
        hub.start()
        assert hub.http.put("/api/stores/s1", json={"id": "s1", "name": "一号店"}).is_success
        edge.start()
        gw = edge.http
        wait_until(lambda: gw.get("/api/lanes/1/basket").status_code == 200, 10, what="lane")
        reg = gw.post("/api/members", json={"phone": "13812345678", "name": "周杰"})
        assert reg.status_code == 201, reg.text
        member = reg.json()["member_id"]

        def sell(bottles: int, points: int | None = None) -> dict:
            for _ in range(bottles):
                assert gw.post("/api/lanes/1/basket/scan", json={"code": WATER}).is_success
            who = gw.post("/api/lanes/1/basket/member", json={"phone": "138 1234 5678"})
            assert who.status_code == 200, who.text
            if points:
                r = gw.post("/api/lanes/1/basket/points", json={"points": points})
                assert r.status_code == 200, r.text
            due = gw.get("/api/lanes/1/basket").json()["due_fen"]
            paid = gw.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": due})
            assert paid.status_code == 200, paid.text
            return who.json() | {"sale": paid.json()["sale"]}

        first = sell(10)  # ¥20.00: 20 points
        assert first["member"]["online"] is True
        wait_until(lambda: balance(hub, member) == 20, 30, what="points earned")

        # online: 10 points (¥0.10) reserved at the hub and named by the sale
        second = sell(5, points=10)
        assert second["sale"]["total_fen"] == 1000
        # earned on the ¥9.90 paid in money: 9; spent: 10
        wait_until(lambda: balance(hub, member) == 19, 30, what="points spent online")

        hub.stop()  # the hub goes away; its will says offline
        wait_until(
            lambda: gw.get("/api/journal").json()["uplink"]["hub_online"] is False,
            30,
            what="the gateway to see the hub offline",
        )
        for _ in range(2):
            gw.post("/api/lanes/1/basket/scan", json={"code": WATER})
        who = gw.post("/api/lanes/1/basket/member", json={"phone": "13812345678"})
        assert who.status_code == 200 and who.json()["member"]["online"] is False
        assert who.json()["member"]["member_id"] == member
        r = gw.post("/api/lanes/1/basket/points", json={"points": 15})
        assert r.status_code == 200, r.text
        assert r.json()["payments"][0]["amount_fen"] == 15
        rest = gw.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": 385})
        assert rest.status_code == 200 and rest.json()["sale"]["total_fen"] == 400

        gw.post("/api/lanes/1/basket/scan", json={"code": WATER})
        gw.post("/api/lanes/1/basket/member", json={"phone": "13812345678"})
        over = gw.post("/api/lanes/1/basket/points", json={"points": 10})
        assert over.status_code == 409 and "20 points per member" in over.json()["error"]
        stranger = gw.post("/api/lanes/1/basket/member", json={"phone": "13900000000"})
        assert stranger.status_code == 503 and "recent" in stranger.json()["error"]

        # the hub comes back and books the offline sale: 15 points debited, 3 earned
        hub.start()
        wait_until(lambda: balance(hub, member) == 19 - 15 + 3, 60, what="offline points")
    finally:
        edge.stop()
        hub.stop()
