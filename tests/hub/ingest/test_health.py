"""A stalled ingest is reported, not hidden: with the hub's database held (locked by another
client, the hub's connection killed) messages wait and no pass finishes; /health answers 503
and says why, /api/ingest/status says `healthy: false`. The failure is the database's, not the
event's: the pass is retried, nothing is rejected, and once the database is back the sale is
booked and the hub is healthy again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from protocols import topics
from tests.conftest import Broker, Hub, wait_until
from tests.hub.ingest.poison import batch, publish, sale

pytestmark = pytest.mark.slow


def _stalled(hub: Hub) -> str | None:
    r = hub.http.get("/health")
    if r.status_code == 503 and r.json()["ok"] is False:
        return str(r.json()["ingest"])
    return None


def _start(tmp_path: Path, broker: Broker, db_url: str | None) -> Hub:
    hub = Hub(tmp_path / "hub", broker.url, db_url)
    hub.env["STOREGW_INGEST_STALL_S"] = "2"
    hub.start()
    topic = topics.events("s1", "g1")
    publish(broker.port, topic, batch(sale(1, "s1")))
    wait_until(lambda: hub.last_seq("s1", "g1") == 1, 30, what="first sale", abort=hub.died)
    assert hub.http.get("/health").status_code == 200
    return hub


def _recovers(hub: Hub) -> None:
    wait_until(lambda: hub.last_seq("s1", "g1") == 2, 60, what="the held sale", abort=hub.died)
    wait_until(lambda: hub.http.get("/health").status_code == 200, 30, what="healthy again")
    status = hub.http.get("/api/ingest/status").json()
    assert status["healthy"] and status["gateways"][0]["rejected"] == 0
    assert len(hub.sale_ids("s1")) == 2
    assert "retrying in" in hub.log.read_text()  # the pass was retried, not rejected


def test_a_locked_sqlite_database_stalls_ingest_visibly(tmp_path: Path, broker: Broker):
    hub = _start(tmp_path, broker, None)
    lock = sqlite3.connect(hub.data_dir / "hub.db", isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        publish(broker.port, topics.events("s1", "g1"), batch(sale(2, "s1")))
        why = wait_until(lambda: _stalled(hub), 30, what="/health to report the stall")
        assert "stalled" in why
        # the hub's busy timeout (30 s) runs out: a database failure, retried with back-off
        wait_until(lambda: "retrying in" in hub.log.read_text(), 60, what="a retry", abort=hub.died)
        assert _stalled(hub)
        lock.execute("ROLLBACK")
        _recovers(hub)
    finally:
        lock.close()
        hub.stop()


def test_a_blocked_postgresql_database_stalls_ingest_visibly(
    tmp_path: Path, broker: Broker, pg_url: str
):
    hub = _start(tmp_path, broker, pg_url)
    lock = psycopg.connect(pg_url)
    try:
        lock.execute("LOCK TABLE sales IN EXCLUSIVE MODE")  # reads go on, writes wait
        publish(broker.port, topics.events("s1", "g1"), batch(sale(2, "s1")))
        wait_until(lambda: _stalled(hub), 30, what="/health to report the stall")
        status = hub.http.get("/api/ingest/status").json()
        assert status["healthy"] is False and "stalled" in status["state"]
        # the hub's connection is lost mid-pass: retried, never taken for the event's fault
        killed = lock.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND wait_event_type = 'Lock'"
        ).fetchone()
        assert killed and killed[0] >= 1
        wait_until(lambda: "retrying in" in hub.log.read_text(), 30, what="a retry", abort=hub.died)
        assert _stalled(hub)
        lock.rollback()
        _recovers(hub)
    finally:
        lock.close()
        hub.stop()
