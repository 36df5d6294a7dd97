"""The hub's HTTP API: authentication, validation, paging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.ingest.service import Ingest
from rig.samples import sale_event


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
    Ingest(hub.app_state.db).apply(
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
