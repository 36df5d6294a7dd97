"""The gateway's HTTP API: authentication, validation, the lane's bookings."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import Broker, Edge, sale_body


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
