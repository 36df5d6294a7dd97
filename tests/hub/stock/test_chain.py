"""Stock across the real chain (Mosquitto, the hub and a gateway as processes; SQLite and
PostgreSQL): goods received and a sale at the gateway move stock at the hub exactly once, a
replay of the whole journal moves nothing, the store sees its own stock and its alerts, and
the lane hands over an online order."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.conftest import Broker, Edge, Hub, sale_body, wait_until

WATER, APPLE = "6901028075015", "2000123"  # rig.samples.sale_body: 2 bottles, ~1 kg of apples


def on_hand(hub: Hub, sku: str) -> int | None:
    levels = hub.http.get("/api/stock/stores/s1", params={"sku": sku}).json()["levels"]
    return levels[0]["on_hand_milli"] if levels else None


def test_sales_and_receipts_move_stock_once_and_the_store_sees_it(
    tmp_path: Path, broker: Broker, hub_db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOREGW_STOCK_JOB_S", "0.2")  # alerts reach the store promptly
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    hub.start()
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    try:
        assert hub.http.put("/api/stores/s1", json={"id": "s1", "name": "一店"}).is_success
        edge.start()
        got = edge.http.post(
            "/api/lanes/back/stock/receipts",
            json={"received_by": "王强", "lines": [{"sku": WATER, "qty_milli": 10_000}]},
        )
        assert got.status_code == 201, got.text
        wait_until(lambda: on_hand(hub, WATER) == 10_000, 20, what="goods received at the hub")
        sold = edge.sell(1)
        assert sold.status_code == 201, sold.text
        wait_until(lambda: on_hand(hub, WATER) == 8_000, 20, what="the sale's stock move")
        apple = on_hand(hub, APPLE)
        assert apple == -1_001  # weighed: grams (sale_body(1) weighs 1001 g)

        # the store's own stock, asked of the hub; its alerts, published to it
        mine = edge.http.get("/api/stock", params={"sku": [WATER, APPLE]}).json()["levels"]
        assert {x["sku"]: x["available_milli"] for x in mine} == {WATER: 8_000, APPLE: -1_001}
        below_zero = {(ln["sku"], "negative") for ln in sale_body(1)["lines"]} - {
            (WATER, "negative")
        }
        wait_until(
            lambda: (
                {(a["sku"], a["kind"]) for a in edge.http.get("/api/stock/alerts").json()["alerts"]}
                == below_zero
            ),
            20,
            what="the negative-stock alert at the store",
        )

        # an online order held at the hub, handed over by the lane
        order = str(uuid.uuid4())
        held = hub.http.post(
            "/api/pickups",
            json={
                "order_id": order,
                "store_id": "s1",
                "lines": [{"sku": WATER, "qty_milli": 3_000}],
            },
        )
        assert held.status_code == 201, held.text
        done = edge.http.post(f"/api/lanes/1/pickups/{order}/complete")
        assert done.status_code == 200 and done.json()["state"] == "picked_up", done.text
        assert edge.http.post(f"/api/lanes/1/pickups/{uuid.uuid4()}/complete").status_code == 404
        assert on_hand(hub, WATER) == 5_000

        # replay: the gateway forgets every ack (a journal restored from a backup) and resends
        last = edge.journal()["last_seq"]
        wait_until(lambda: edge.journal()["last_acked_seq"] == last, 20, what="all acked")
        edge.stop()
        with sqlite3.connect(tmp_path / "edge" / "journal.db") as j:
            j.execute("UPDATE events SET acked_at = NULL")
            j.execute("UPDATE meta SET value = '0' WHERE key IN ('last_acked', 'sent_upto')")
        edge.start()
        assert edge.journal()["last_acked_seq"] < last
        wait_until(lambda: edge.journal()["last_acked_seq"] == last, 30, what="the replay acked")
        assert (on_hand(hub, WATER), on_hand(hub, APPLE)) == (5_000, -1_001)
        assert hub.http.get("/api/stock/check").json() == {"ok": True, "mismatches": []}
        moves = hub.http.get(f"/api/stock/stores/s1/skus/{WATER}/moves").json()["moves"]
        assert [m["kind"] for m in moves] == ["pickup", "sale", "received"]
    finally:
        edge.stop()
        hub.stop()
