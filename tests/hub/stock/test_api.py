"""The stock, purchasing, pickup and notification API through the real app (routers, token,
error answers): a clear 4xx with a reason for bad input, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.db import Database, utcnow
from hub.stock import runtime
from hub.stores.models import Store

H = {"Authorization": "Bearer api-test-token"}


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STOREGW_HUB_TOKEN", "api-test-token")
    monkeypatch.setenv("STOREGW_STOCK_JOB_S", "3600")  # the tests run the job themselves
    with db.transaction() as s:
        s.add_all([Store(id="s1", name="一店"), Store(id="s2", name="二店")])
    app = create_app(tmp_path / "hub-data", db.url)
    with TestClient(app, headers=H) as client:
        yield client


def test_purchase_receive_transfer_and_pick_up_through_the_api(api: TestClient) -> None:
    assert api.get("/api/stock/stores/s1", headers={"Authorization": ""}).status_code == 401
    sup = api.put(
        "/api/suppliers/fresh",
        json={
            "name": "鲜果",
            "lead_time_days": 1,
            "items": [{"sku": "A", "cost_fen": 250, "pack_milli": 10_000}],
        },
    )
    assert sup.status_code == 200, sup.text
    po = api.post(
        "/api/purchase-orders",
        json={
            "supplier_id": "fresh",
            "store_id": "s1",
            "lines": [{"sku": "A", "qty_milli": 20_000}],
        },
    )
    assert po.status_code == 201, po.text
    pid = po.json()["id"]
    assert api.post(f"/api/purchase-orders/{pid}/send").json()["state"] == "sent"
    again = api.post(f"/api/purchase-orders/{pid}/send")
    assert again.status_code == 409 and "cannot become sent" in again.json()["detail"]
    r = api.post(
        "/api/receipts",
        json={
            "store_id": "s1",
            "po_id": pid,
            "received_by": "王",
            "lines": [{"sku": "A", "qty_milli": 10_000}],
        },
    )
    assert r.status_code == 201, r.text
    assert api.get(f"/api/purchase-orders/{pid}").json()["state"] == "partly_received"
    level = api.get("/api/stock/stores/s1").json()["levels"][0]
    assert level == {
        "sku": "A",
        "on_hand_milli": 10_000,
        "reserved_milli": 0,
        "available_milli": 10_000,
        "on_order_milli": 10_000,
        "in_transit_milli": 0,
        "avg_cost_fen": 250,
    }

    t = api.post(
        "/api/stock/transfers",
        json={"from_store": "s1", "to_store": "s2", "lines": [{"sku": "A", "qty_milli": 4_000}]},
    )
    assert t.status_code == 201 and t.json()["state"] == "in_transit"
    assert api.get("/api/stock/stores/s2").json()["levels"][0]["in_transit_milli"] == 4_000
    got = api.post(
        f"/api/stock/transfers/{t.json()['id']}/receive",
        json={"lines": [{"sku": "A", "qty_milli": 3_500}]},
    )
    assert got.status_code == 200 and got.json()["lines"][0]["received_milli"] == 3_500
    assert api.post(f"/api/stock/transfers/{t.json()['id']}/receive", json={}).status_code == 409

    order = str(uuid.uuid4())
    held = api.post(
        "/api/pickups",
        json={"order_id": order, "store_id": "s1", "lines": [{"sku": "A", "qty_milli": 6_000}]},
    )
    assert held.status_code == 201 and held.json()["state"] == "held"
    short = api.post(
        "/api/pickups",
        json={
            "order_id": str(uuid.uuid4()),
            "store_id": "s1",
            "lines": [{"sku": "A", "qty_milli": 1}],
        },
    )
    assert short.status_code == 409 and "0 available" in short.json()["detail"]
    assert api.post(f"/api/pickups/{order}/cancel").json()["state"] == "released"

    count = api.post(
        "/api/stock/stores/s1/stocktakes",
        json={"counted_by": "李", "lines": [{"sku": "A", "counted_milli": 5_800}]},
    )
    assert count.status_code == 201 and count.json()["lines"][0]["variance_milli"] == -200
    off = api.post(
        "/api/stock/stores/s1/write-offs", json={"sku": "A", "kind": "damage", "qty_milli": 800}
    )
    assert off.status_code == 201 and off.json()["on_hand_milli"] == 5_000
    assert api.get("/api/stock/check").json() == {"ok": True, "mismatches": []}
    kinds = [m["kind"] for m in api.get("/api/stock/stores/s1/skus/A/moves").json()["moves"]]
    assert kinds == ["damage", "stocktake", "transfer_out", "received"]


def test_bad_input_is_a_clear_4xx(api: TestClient) -> None:
    cases = [
        (
            "post",
            "/api/pickups",
            {"order_id": "o", "store_id": "s1", "lines": [{"sku": "A", "qty_milli": 1.5}]},
            422,
        ),
        (
            "post",
            "/api/pickups",
            {"order_id": "o", "store_id": "s1", "lines": [{"sku": "A", "qty_milli": 0}]},
            422,
        ),
        (
            "post",
            "/api/pickups",
            {"order_id": "o", "store_id": "nowhere", "lines": [{"sku": "A", "qty_milli": 1}]},
            422,
        ),
        (
            "post",
            "/api/stock/transfers",
            {"from_store": "s1", "to_store": "s1", "lines": [{"sku": "A", "qty_milli": 1}]},
            422,
        ),
        (
            "post",
            "/api/purchase-orders",
            {"supplier_id": "none", "store_id": "s1", "lines": [{"sku": "A", "qty_milli": 1}]},
            422,
        ),
        ("post", "/api/purchase-orders/nope/send", None, 404),
        (
            "post",
            "/api/receipts",
            {
                "store_id": "s1",
                "po_id": "nope",
                "received_by": "x",
                "lines": [{"sku": "A", "qty_milli": 1}],
            },
            404,
        ),
        (
            "post",
            "/api/stock/stores/s1/stocktakes",
            {
                "counted_by": "x",
                "lines": [{"sku": "A", "counted_milli": 1}, {"sku": "A", "counted_milli": 2}],
            },
            422,
        ),
        ("post", "/api/stock/stores/s1/skus/A/subscriptions", {"member_id": "nobody"}, 404),
        ("get", "/api/stock/demand?since=2026-01-02&until=2026-01-01", None, 422),
        ("get", "/api/stock/stocktakes/none", None, 404),
    ]
    for method, path, body, status in cases:
        r = api.request(method, path, json=body)
        assert r.status_code == status, (path, r.text)
        assert r.json()["detail"]


def test_alerts_are_published_for_the_store(api: TestClient, db: Database) -> None:
    api.post(
        "/api/stock/stores/s1/write-offs", json={"sku": "B", "kind": "loss", "qty_milli": 1_000}
    )
    assert [
        a["kind"] for a in api.get("/api/stock/alerts", params={"store": "s1"}).json()["alerts"]
    ] == ["negative"]
    sent: list[tuple[str, bytes]] = []
    assert runtime.publish_alerts(db, lambda t, p, q, r: sent.append((t, p)), utcnow()) == 1
    assert sent[0][0] == "storegw/v1/s1/config/stock-alerts" and b'"negative"' in sent[0][1]
    assert runtime.publish_alerts(db, lambda *a: sent.append(a), utcnow()) == 0  # unchanged
