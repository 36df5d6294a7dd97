"""The nightly replenishment job in a real hub (create_app, its scheduler running, SQLite and
PostgreSQL): due at 02:00 store time on the scheduler's clock (set by the test, no sleeps),
run by name too, once per store-local business day whatever happens — a catch-up after the
hub was down at the hour, a run by name meanwhile, several runs racing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.db import Database, bulk_insert
from hub.members.overview import today
from hub.purchasing.models import PurchaseOrder
from hub.stock.models import DailyDemand
from hub.stores.models import Store
from rig.race import race
from rig.waiting import wait_until

H = {"Authorization": "Bearer api-test-token"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A store-local time in Shanghai, as the UTC instant the scheduler's clock gives."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(UTC)


@contextmanager
def _hub(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check_s: str
) -> Iterator[tuple[TestClient, Any, date]]:
    """A hub whose s1 is short of milk and whose s2 holds too much of it; the scheduler
    checks for due runs every `check_s` seconds (its ticks are 1 s)."""
    monkeypatch.setenv("STOREGW_HUB_TOKEN", "api-test-token")
    monkeypatch.setenv("STOREGW_STOCK_JOB_S", "3600")
    monkeypatch.setenv("STOREGW_REPLENISH_CHECK_S", check_s)
    monkeypatch.setenv("STOREGW_REPLENISH_AUTO_SEND_FEN", "1000")  # 27,000 fen waits: a draft
    with db.transaction() as s:
        s.add_all([Store(id="s1", name="一店"), Store(id="s2", name="二店")])
        day = today(s)
        for store, sku, per_day in (("s1", "milk", 10_000), ("s2", "milk", 1_000)):
            # up to today, the eve of tomorrow's run: a missing last day on a holiday's eve
            # would read as "sells nothing on holidays" and forecast nothing
            rows = [{"day": day - timedelta(days=i), "sold_milli": per_day} for i in range(120)]
            bulk_insert(
                s,
                DailyDemand.__table__,
                rows,
                same={"store_id": store, "sku": sku, "refunded_milli": 0},
            )
    app = create_app(tmp_path / "hub-data", db.url)
    with TestClient(app, headers=H) as client:
        r = client.put(
            "/api/suppliers/fresh",
            json={
                "name": "鲜奶",
                "lead_time_days": 2,
                "items": [{"sku": "milk", "cost_fen": 300, "pack_milli": 6_000}],
            },
        )
        assert r.status_code == 200, r.text
        for store, qty in (("s1", 5_000), ("s2", 200_000)):
            r = client.post(
                f"/api/stock/stores/{store}/stocktakes",
                json={"counted_by": "t", "lines": [{"sku": "milk", "counted_milli": qty}]},
            )
            assert r.status_code == 201, r.text
        yield client, app.state.jobs, day


def _runs(api: TestClient) -> list[dict[str, Any]]:
    r = api.get("/api/replenishment/runs")
    assert r.status_code == 200, r.text
    return r.json()["runs"]


def _orders(db: Database) -> list[tuple[str, str]]:
    with db.transaction() as s:
        return [tuple(r) for r in s.execute(select(PurchaseOrder.store_id, PurchaseOrder.state))]


def _by_name(api: TestClient) -> dict[str, Any]:
    r = api.post("/api/loyalty/jobs/replenishment/run")
    assert r.status_code == 200, r.text
    return r.json()["result"]


def test_due_at_two_in_the_morning_store_time(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _hub(db, tmp_path, monkeypatch, check_s="0") as (api, jobs, day):
        tomorrow = day + timedelta(days=1)
        # the stores were made today: today's 02:00 was before them, nothing is due
        assert _by_name(api)["ran"] == []
        jobs.clock = lambda: _at(tomorrow, 1, 59)
        assert _by_name(api)["ran"] == []  # a minute early
        jobs.clock = lambda: _at(tomorrow, 2, 0)  # the scheduler's own tick finds them due
        # the pass commits each store's run, then the transfers among them: wait for both
        runs = wait_until(
            lambda: (r := _runs(api)) and len(r) == 2 and any(x["transfers"] for x in r) and r,
            what="the nightly runs and their transfers",
        )
        by_store = {r["store_id"]: r for r in runs}
        assert {r["day"] for r in runs} == {tomorrow.isoformat()}
        s1 = by_store["s1"]
        assert (s1["series"], s1["alerts"], s1["orders"]) == (1, 1, 1), s1
        [move] = s1["transfers"]  # s2's excess milk suggested to s1
        assert (move["sku"], move["from_store"], move["to_store"]) == ("milk", "s2", "s1")
        assert by_store["s2"]["alerts"] == 0 and by_store["s2"]["transfers"] == []
        # the day is done: by name, nothing more; the alert and the draft PO are there
        assert _by_name(api)["ran"] == []
        alerts = api.get("/api/replenishment/alerts", params={"store": "s1"}).json()["alerts"]
        assert [a["sku"] for a in alerts] == ["milk"]
        assert _orders(db) == [("s1", "draft")]  # 27,000 fen: above the threshold, waits
        assert len(_runs(api)) == 2


def test_catch_up_once_and_never_twice_a_day(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the scheduler checks once at start (nothing due on the real clock), then not for an hour:
    # only the runs by name below
    with _hub(db, tmp_path, monkeypatch, check_s="3600") as (api, jobs, day):
        tomorrow = day + timedelta(days=1)
        jobs.clock = lambda: _at(tomorrow, 9, 30)  # the hub was down at 02:00: caught up
        results = race(4, lambda i: jobs.run("replenishment"))
        assert not [r for r in results if isinstance(r, BaseException)], results
        ran = sorted(s for r in results for s in r["ran"])
        assert ran == ["s1", "s2"], results  # each store once among four racing runs
        assert not [r for r in results if r["failed"]], results
        assert _by_name(api)["ran"] == []
        jobs.clock = lambda: _at(tomorrow + timedelta(days=1), 1, 0)
        assert _by_name(api)["ran"] == []  # the next day, before its hour
        jobs.clock = lambda: _at(tomorrow + timedelta(days=1), 2, 30)
        assert _by_name(api)["ran"] == ["s1", "s2"]
        days = sorted({(r["store_id"], r["day"]) for r in _runs(api)})
        assert len(days) == 4 and len(_runs(api)) == 4
        # the store's draft from the first night is not drafted again
        assert _orders(db) == [("s1", "draft")]


def test_unknown_job_and_bad_hour(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.replenishment.nightly import Settings

    monkeypatch.setenv("STOREGW_REPLENISH_HOUR", "24")
    with pytest.raises(ValueError, match=r"0\.\.23"):
        Settings.from_env()
    monkeypatch.setenv("STOREGW_REPLENISH_HOUR", "2")
    with _hub(db, tmp_path, monkeypatch, check_s="3600") as (api, _, _day):
        r = api.post("/api/loyalty/jobs/nightly/run")
        assert r.status_code == 404 and "replenishment" in r.json()["detail"]
