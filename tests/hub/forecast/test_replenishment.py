"""Replenishment through the real app on SQLite and PostgreSQL: a store short of milk gets a
reorder alert, a suggested order in whole packs, a PO drafted through purchasing (sent at once
under the threshold, else waiting for approval and not drafted twice), a transfer suggestion
from the store that holds too much; the forecast rows and the CSV exports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.db import Database, bulk_insert, utcnow
from hub.members.overview import today
from hub.stock.models import DailyDemand
from hub.stores.models import Store
from protocols import topics
from rig.processes import Broker
from rig.waiting import wait_until

H = {"Authorization": "Bearer api-test-token"}


def _demand(db: Database, store: str, sku: str, per_day: int, days: int) -> None:
    with db.transaction() as s:
        last = today(s) - timedelta(days=1)
        rows = [{"day": last - timedelta(days=i), "sold_milli": per_day} for i in range(days)]
        bulk_insert(
            s,
            DailyDemand.__table__,
            rows,
            same={"store_id": store, "sku": sku, "refunded_milli": 0},
        )


@contextmanager
def _hub(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mqtt_url: str | None = None
) -> Iterator[tuple[TestClient, FastAPI]]:
    """s1 short of milk, s2 holding too much of it, one supplier; MQTT when `mqtt_url` names
    a broker."""
    monkeypatch.setenv("STOREGW_HUB_TOKEN", "api-test-token")
    monkeypatch.setenv("STOREGW_STOCK_JOB_S", "3600")
    with db.transaction() as s:
        s.add_all([Store(id="s1", name="一店"), Store(id="s2", name="二店")])
    _demand(db, "s1", "milk", 10_000, 120)
    _demand(db, "s1", "tea", 2_000, 120)
    _demand(db, "s2", "milk", 1_000, 120)
    app = create_app(tmp_path / "hub-data", db.url, mqtt_url=mqtt_url)
    with TestClient(app, headers=H) as client:
        sup = client.put(
            "/api/suppliers/fresh",
            json={
                "name": "鲜奶",
                "lead_time_days": 2,
                "items": [
                    {
                        "sku": "milk",
                        "cost_fen": 300,
                        "pack_milli": 6_000,
                        "min_order_milli": 12_000,
                    },
                    {"sku": "tea", "cost_fen": 1000, "pack_milli": 1_000},
                ],
            },
        )
        assert sup.status_code == 200, sup.text
        for store, lines in {
            "s1": [("milk", 5_000), ("tea", 50_000), ("dead", 3_000)],
            "s2": [("milk", 200_000)],
        }.items():
            r = client.post(
                f"/api/stock/stores/{store}/stocktakes",
                json={
                    "counted_by": "t",
                    "lines": [{"sku": k, "counted_milli": q} for k, q in lines],
                },
            )
            assert r.status_code == 201, r.text
        yield client, app


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with _hub(db, tmp_path, monkeypatch) as (client, _app):
        yield client


def _by_sku(rows: list[dict]) -> dict[str, dict]:
    return {r["sku"]: r for r in rows}


def test_plan_alert_draft_approve_and_transfer(api: TestClient) -> None:
    plan = _by_sku(api.get("/api/replenishment/stores/s1/plan").json()["plan"])
    milk, tea, dead = plan["milk"], plan["tea"], plan["dead"]
    # ten a day, lead 2 + review 7: target ≈ 90 pieces, 5 available → 85 → 15 packs of 6
    assert abs(milk["forecast_7d_milli"] - 70_000) < 500, milk
    assert abs(milk["reorder_point_milli"] - 20_000) < 500, milk
    assert milk["below_reorder_point"] and milk["suggested_milli"] == 90_000, milk
    assert milk["supplier_id"] == "fresh" and milk["value_fen"] == 27_000
    assert not tea["below_reorder_point"] and tea["suggested_milli"] == 0, tea
    assert dead["forecast_7d_milli"] == 0 and dead["supplier_id"] is None

    moves = api.get("/api/replenishment/transfers").json()["transfers"]
    assert [(m["sku"], m["from_store"], m["to_store"]) for m in moves] == [("milk", "s2", "s1")]
    assert 80_000 <= moves[0]["qty_milli"] <= 90_000 and moves[0]["qty_milli"] % 1000 == 0

    run = api.post("/api/replenishment/stores/s1/run", json={})
    assert run.status_code == 200, run.text
    done = run.json()
    assert done["series"] == 2 and done["alerts"] == 1
    [po] = done["purchase_orders"]
    assert po["state"] == "draft" and po["supplier_id"] == "fresh"
    assert [(ln["sku"], ln["ordered_milli"]) for ln in po["lines"]] == [("milk", 90_000)]
    alerts = api.get("/api/replenishment/alerts", params={"store": "s1"}).json()["alerts"]
    assert [a["sku"] for a in alerts] == ["milk"]
    # waiting for a person: the next run drafts nothing more
    assert api.post("/api/replenishment/stores/s1/run", json={}).json()["purchase_orders"] == []
    assert api.post(f"/api/purchase-orders/{po['id']}/send").json()["state"] == "sent"
    plan = _by_sku(api.get("/api/replenishment/stores/s1/plan").json()["plan"])
    assert plan["milk"]["on_order_milli"] == 90_000 and plan["milk"]["suggested_milli"] == 0

    fc = api.get("/api/replenishment/stores/s1/forecast", params={"sku": "milk"}).json()
    assert len(fc["forecast"]) == 7
    assert all(f["low_milli"] <= f["mean_milli"] <= f["high_milli"] for f in fc["forecast"])


def test_auto_send_under_the_threshold(api: TestClient) -> None:
    done = api.post("/api/replenishment/stores/s1/run", json={"auto_send_below_fen": 30_000})
    [po] = done.json()["purchase_orders"]
    assert po["state"] == "sent" and po["value_fen"] == 27_000


def test_exports_and_bad_input(api: TestClient) -> None:
    r = api.get("/api/replenishment/stores/s1/plan", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [x["sku"] for x in rows] == ["dead", "milk", "tea"]
    assert rows[1]["suggested_milli"] == "90000"
    r = api.get("/api/replenishment/stores/s1/classification", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert {x["sku"]: x["mover"] for x in rows} == {"dead": "dead", "milk": "fast", "tea": "medium"}
    assert {x["sku"]: x["xyz"] for x in rows}["milk"] == "X"
    assert api.get("/api/replenishment/stores/nope/plan").status_code == 404
    bad = api.put("/api/replenishment/stores/s1/skus/milk/setting", json={"service_level_pm": 1000})
    assert bad.status_code == 422
    bad = api.put("/api/replenishment/stores/s1/skus/milk/setting", json={"supplier_id": "x"})
    assert bad.status_code == 422 and "does not sell" in bad.json()["detail"]
    ok = api.put(
        "/api/replenishment/stores/s1/skus/milk/setting", json={"fixed_safety_milli": 30_000}
    )
    assert ok.status_code == 200
    milk = _by_sku(api.get("/api/replenishment/stores/s1/plan").json()["plan"])["milk"]
    assert milk["safety_milli"] == 30_000 and milk["suggested_milli"] == 120_000


def test_backtest_command(db: Database, tmp_path: Path) -> None:
    """`storegw forecast backtest` over the hub's own history (here two flat series: the
    model and seasonal naive both near perfect, the report well formed)."""
    with db.transaction() as s:
        s.add(Store(id="s1", name="一店"))
    _demand(db, "s1", "milk", 10_000, 120)
    got = subprocess.run(
        [sys.executable, "-m", "storegw.cli", "forecast", "backtest", "--database-url", db.url],
        capture_output=True,
        text=True,
        timeout=600,  # a cold start imports the hub (scipy …): 95 s at load 30 on 2 cores
    )
    assert got.returncode == 0, got.stderr
    assert '"seasonal_naive"' in got.stdout and '"wape": 0.0' in got.stdout


def test_reorder_alerts_published_once_per_change(api: TestClient, db: Database) -> None:
    """What goes to the store (retained, on its stock-alerts leaf), only when the list changed."""
    from hub.db import utcnow
    from hub.replenishment import service

    assert api.post("/api/replenishment/stores/s1/run", json={}).status_code == 200
    sent: list[tuple[str, bytes, int, bool]] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        sent.append((topic, payload, qos, retain))

    with db.transaction() as s:
        assert service.publish_alerts(s, "s1", publish, utcnow())
    with db.transaction() as s:
        assert not service.publish_alerts(s, "s1", publish, utcnow())  # unchanged: nothing
    [(topic, payload, qos, retain)] = sent
    assert topic == "storegw/v1/s1/config/stock-alerts" and qos == 1 and retain
    assert '"sku": "milk"' in payload.decode()


def _committed(db: Database, store: str) -> tuple[list[str], int]:
    """What another connection sees of the store's reorder alerts and POs: committed state
    only (a plain DBAPI connection, outside SQLAlchemy's BEGIN IMMEDIATE: it never waits)."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        mark = "?" if db.is_sqlite else "%s"
        cur.execute(f"SELECT sku FROM reorder_alerts WHERE store_id = {mark} ORDER BY 1", (store,))
        skus = [r[0] for r in cur.fetchall()]
        cur.execute(f"SELECT count(*) FROM purchase_orders WHERE store_id = {mark}", (store,))
        return skus, cur.fetchone()[0]
    finally:
        raw.rollback()
        raw.close()


def test_run_publishes_only_what_is_committed(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: Broker
) -> None:
    """POST …/run tells the store of its alerts after its transaction commits: at the moment
    the document goes out, another connection already sees the alerts and the PO it speaks of
    (published inside the transaction, a subscriber could read what was not committed yet, or
    what a rollback took back). The store gets the document, retained, from the real broker."""
    with _hub(db, tmp_path, monkeypatch, broker.url) as (api, app):
        worker = app.state.worker
        real = worker.publish
        seen: list[tuple[list[str], int]] = []

        def publish(topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
            if topic == topics.stock_alerts("s1"):
                seen.append(_committed(db, "s1"))
            real(topic, payload, qos, retain)

        monkeypatch.setattr(worker, "publish", publish)  # observes, then the real publish
        r = api.post("/api/replenishment/stores/s1/run", json={})
        assert r.status_code == 200, r.text
        assert len(r.json()["purchase_orders"]) == 1
        assert seen == [(["milk"], 1)]

        got: list[dict] = []
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_message = lambda c, u, msg: got.append(json.loads(msg.payload))
        client.connect("127.0.0.1", broker.port)
        client.subscribe(topics.stock_alerts("s1"), qos=1)
        client.loop_start()
        try:
            wait_until(lambda: got, 10, what="the retained stock alerts")
        finally:
            client.loop_stop()
            client.disconnect()
        assert [(a["kind"], a["sku"]) for a in got[0]["alerts"]] == [("reorder", "milk")]


def test_a_sku_below_zero_is_one_alert(api: TestClient, db: Database) -> None:
    """Below zero, a SKU is below its reorder point too: one condition, one alert, the most
    severe (`negative`), in the hub's lists and in what the store is sent; once the books are
    back above zero but still short, the reorder alert shows again."""
    from hub.replenishment import service

    lost = api.post(
        "/api/stock/stores/s1/write-offs", json={"sku": "dead", "kind": "loss", "qty_milli": 5_000}
    )
    assert lost.status_code == 201, lost.text
    done = api.post("/api/replenishment/stores/s1/run", json={}).json()
    assert done["alerts"] == 1  # milk; dead's shortage is the ledger's negative alert
    listed = api.get("/api/replenishment/alerts", params={"store": "s1"}).json()["alerts"]
    assert [a["sku"] for a in listed] == ["milk"]
    with db.transaction() as s:
        sent = service.store_alerts(s, "s1")
    assert sorted((a["sku"], a["kind"]) for a in sent) == [
        ("dead", "negative"),
        ("milk", "reorder"),
    ]


def test_reorder_alerts_follow_the_stock(api: TestClient, db: Database) -> None:
    """The nightly run's alerts, set-based: a figure that moved is updated and sent again, a
    SKU newly below gets its alert, one back above loses it."""
    from hub.replenishment import service

    def shown() -> dict[str, int]:
        rows = api.get("/api/replenishment/alerts", params={"store": "s1"}).json()["alerts"]
        return {a["sku"]: a["available_milli"] for a in rows}

    def publish() -> list[dict]:
        sent: list[bytes] = []
        with db.transaction() as s:
            service.publish_alerts(s, "s1", lambda t, p, q, r: sent.append(p), utcnow())
        return [json.loads(p)["alerts"] for p in sent]

    def count(sku: str, milli: int) -> None:
        r = api.post(
            "/api/stock/stores/s1/stocktakes",
            json={"counted_by": "t", "lines": [{"sku": sku, "counted_milli": milli}]},
        )
        assert r.status_code == 201, r.text

    assert api.post("/api/replenishment/stores/s1/run", json={}).json()["alerts"] == 1
    assert shown() == {"milk": 5_000}
    assert len(publish()) == 1 and publish() == []  # sent once; unchanged: not again
    count("milk", 2_000)
    count("tea", 0)
    assert api.post("/api/replenishment/stores/s1/run", json={}).json()["alerts"] == 2
    assert shown() == {"milk": 2_000, "tea": 0}
    [doc] = publish()
    assert {a["sku"]: a["available_milli"] for a in doc} == {"milk": 2_000, "tea": 0}
    count("milk", 500_000)
    assert api.post("/api/replenishment/stores/s1/run", json={}).json()["alerts"] == 1
    assert shown() == {"tea": 0}
    [doc] = publish()
    assert [a["sku"] for a in doc] == ["tea"]
