"""The hub's and the gateway's HTTP APIs: authentication, validation, paging."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hub.app import create_app, ingest_handlers
from hub.ingest.service import Ingest
from rig.samples import sale_event
from tests.conftest import Broker, Edge, sale_body


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.delenv("STOREGW_HUB_TOKEN", raising=False)
    app = create_app(tmp_path / "hub")
    with TestClient(app) as client:
        token = (tmp_path / "hub" / "admin-token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        client.app_state = app.state  # type: ignore[attr-defined]
        yield client


def test_hub_api_needs_a_token_and_keeps_it_secret(hub: TestClient, tmp_path: Path):
    token_file = tmp_path / "hub" / "admin-token"
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    anon = TestClient(hub.app)
    for path in ("/api/stores", "/api/ingest/status", "/api/sales/x", "/api/ingest/rejected"):
        r = anon.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert anon.get("/api/stores", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert anon.get("/health").status_code == 200
    assert hub.get("/api/stores").status_code == 200
    # the database holds only a hash of it
    import sqlite3

    hashes = (
        sqlite3.connect(tmp_path / "hub" / "hub.db")
        .execute("SELECT token_sha256 FROM api_tokens")
        .fetchall()
    )
    assert token_file.read_text().strip() not in json.dumps(hashes)


def test_stores_are_validated(hub: TestClient):
    ok = hub.put("/api/stores/sh1", json={"id": "sh1", "name": "上海一店", "tz": "Asia/Shanghai"})
    assert ok.status_code == 200 and ok.json()["name"] == "上海一店"
    assert (
        hub.put("/api/stores/sh1", json={"id": "sh1", "name": "x", "tz": "Mars/Base"}).status_code
        == 422
    )
    assert hub.put("/api/stores/a+b", json={"id": "a+b", "name": "x"}).status_code == 422
    assert hub.get("/api/stores/nope").status_code == 404


def test_sales_paging_and_time_filter(hub: TestClient):
    envs = []
    for i in range(1, 8):
        e = sale_event(i)
        e["occurred_at"] = f"2026-11-23T0{i}:00:00Z"
        envs.append(e)
    Ingest(hub.app_state.db, ingest_handlers()).apply(
        [("storegw/v1/s9/g1/events", json.dumps({"v": 1, "events": envs}).encode())]
    )
    seen, after = [], None
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        page = hub.get("/api/stores/s9/sales", params=params).json()
        seen += [s["seq"] for s in page["sales"]]
        after = page["next_cursor"]
        if not after:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    window = hub.get(
        "/api/stores/s9/sales",
        params={"since": "2026-11-23T02:00:00Z", "until": "2026-11-23T05:00:00Z"},
    ).json()["sales"]
    assert [s["seq"] for s in window] == [2, 3, 4]
    assert (
        window[0]["total"] == f"{window[0]['total_fen'] // 100}.{window[0]['total_fen'] % 100:02d}"
    )
    assert (
        hub.get("/api/stores/s9/sales", params={"since": "2026-11-23T02:00:00"}).status_code == 422
    )
    assert hub.get("/api/stores/s9/sales", params={"limit": 0}).status_code == 422
    sale = hub.get(f"/api/sales/{envs[0]['id']}").json()
    assert sale["payments"][0]["tender"] == "card" and len(sale["lines"]) == 5
    assert hub.get("/api/stores/s9").json()["sales_count"] == 7


@pytest.fixture
def edge(tmp_path: Path, broker: Broker) -> Edge:
    e = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    e.start()
    yield e
    e.stop()


def test_gateway_api_needs_its_token(edge: Edge):
    anon = httpx.Client(base_url=f"http://127.0.0.1:{edge.port}")
    assert anon.post("/api/lanes/1/sales", json=sale_body()).status_code == 401
    assert anon.get("/api/journal").status_code == 401
    assert anon.get("/api/devices").status_code == 401
    assert anon.get("/health").status_code == 200
    assert edge.journal()["last_seq"] == 0


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b["lines"][0].update(unit_price_fen=2.5), "unit_price_fen"),
        (lambda b: b["lines"][0].update(qty_milli=0), "qty_milli"),
        (lambda b: b["lines"][0].update(discount_fen=999999), "discount"),
        (lambda b: b.update(payments=[{"tender": "cash", "amount_fen": 1}]), "payments"),
        (lambda b: b.update(payments=[{"tender": "gold", "amount_fen": 1}]), "tender"),
        (lambda b: b.update(lines=[]), "lines"),
        (lambda b: b.update(surprise=1), "surprise"),
    ],
)
def test_lane_refuses_bad_sales_and_books_nothing(edge: Edge, mutate, reason: str):
    body = sale_body(1)
    mutate(body)
    r = edge.http.post("/api/lanes/1/sales", json=body)
    assert r.status_code == 400 and reason in r.json()["error"], r.text
    assert edge.http.post("/api/lanes/1/sales", content=b"{nope").status_code == 400
    assert edge.journal()["last_seq"] == 0
    assert "rejected" in edge.log.read_text() or "refused" in edge.log.read_text()


def test_lane_books_sale_refund_and_shift_close(edge: Edge):
    sales = [edge.sell(i).json() for i in range(3)]
    assert [s["receipt_no"][-4:] for s in sales] == ["0001", "0002", "0003"]
    assert sales[1]["change_fen"] > 0 and sales[0]["change_fen"] == 0  # cash vs wechat
    refund = edge.http.post(
        "/api/lanes/1/refunds",
        json={
            "cashier": "张丽",
            "sale_id": sales[0]["sale_id"],
            "reason": "包装破损",
            "lines": [{"sku": "6934502301851", "qty_milli": 1000, "amount_fen": 990}],
            "payments": [{"tender": "wechat", "amount_fen": 990}],
        },
    )
    assert refund.status_code == 201 and refund.json()["total_fen"] == 990
    close = edge.http.post(
        "/api/lanes/1/shifts/close",
        json={
            "cashier": "张丽",
            "shift_id": "2026-11-23-A",
            "opened_at": "2026-11-23T00:00:00Z",
            "closed_at": "2026-11-23T08:00:00Z",
        },
    )
    assert close.status_code == 201
    edge.stop()  # the shift totals are durable across a restart
    edge.start()
    again = edge.http.post(
        "/api/lanes/1/shifts/close",
        json={
            "cashier": "张丽",
            "shift_id": "2026-11-23-B",
            "opened_at": "2026-11-23T08:00:00Z",
            "closed_at": "2026-11-23T09:00:00Z",
        },
    )
    assert again.status_code == 201
    assert edge.journal()["last_seq"] == 6
    import sqlite3

    closes = [
        json.loads(r[0])["body"]
        for r in sqlite3.connect(edge.data_dir / "journal.db").execute(
            "SELECT envelope FROM events WHERE type='shift.closed' ORDER BY seq"
        )
    ]
    assert closes[0]["sales_count"] == 3
    assert closes[0]["sales_fen"] == sum(s["total_fen"] for s in sales)
    assert closes[1]["sales_count"] == 0 and closes[1]["sales_fen"] == 0
