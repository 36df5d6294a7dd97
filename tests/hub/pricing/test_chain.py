"""The whole path with real processes: a typed promotion made at the hub reaches the store's
gateway in its snapshot; a lane that ignores it books a sale; the hub books the sale all the
same, and its pricing job flags the difference for HQ to see."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Broker, Edge, Hub, wait_until

pytestmark = pytest.mark.slow


def test_a_sale_the_engine_prices_otherwise_is_booked_and_flagged(
    tmp_path: Path, broker: Broker, hub_db_url: str | None
):
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    hub.start()
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    try:
        api = hub.http
        assert api.put("/api/stores/s1", json={"id": "s1", "name": "一号店"}).is_success
        promo = {
            "name": "满100减20",
            "kind": "spend_save",
            "rule": {"threshold_fen": 10000, "save_fen": 2000},
        }
        assert api.post("/api/promotions", json=promo).status_code == 201
        bad = api.post("/api/promotions", json={**promo, "rule": {"threshold_fen": 1}})
        assert bad.status_code == 422 and "save_fen" in bad.json()["detail"]
        assert api.post("/api/catalog/publish", json={}).json()["connected"]
        version = api.get("/api/stores/s1/snapshots").json()["snapshots"]["promotions"]["version"]
        edge.start()

        def held() -> int | None:
            snaps = edge.http.get("/api/snapshots").json()["snapshots"]
            return snaps.get("promotions", {}).get("version")

        wait_until(lambda: held() == version, 20, what="the promotions snapshot at the store")
        # a lane that does not price with the engine: 120.00 with no 满减 taken off
        sale = {
            "cashier": "张丽",
            "lines": [
                {"sku": "rice", "name": "五常大米", "qty_milli": 1000, "unit_price_fen": 12000}
            ],
            "payments": [{"tender": "cash", "amount_fen": 12000}],
        }
        r = edge.http.post("/api/lanes/1/sales", json=sale)
        assert r.status_code == 201, r.text
        sale_id = r.json()["sale_id"]

        def flagged() -> list:
            return api.get("/api/pricing/differences", params={"store": "s1"}).json()["differences"]

        wait_until(lambda: len(flagged()) == 1, 30, what="the price difference")
        [d] = flagged()
        assert (d["sale_id"], d["booked_total_fen"], d["expected_total_fen"]) == (
            sale_id,
            12000,
            10000,
        )
        assert api.get(f"/api/sales/{sale_id}").json()["total_fen"] == 12000  # booked as sold
    finally:
        edge.stop()
        hub.stop()
