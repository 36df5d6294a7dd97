"""One bad event never stops the chain: every hostile input of issue 8 is published on a
gateway's events topic of a real Mosquitto, at a real hub (SQLite and PostgreSQL). After each,
another store's sale is booked, the poisoned gateway's next event applies (the poison took its
seq), the poison is in the dead-letter table, and the hub says it is healthy."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols import topics
from tests.conftest import Broker, Hub, wait_until
from tests.hub.ingest.poison import CASES, batch, publish, sale

pytestmark = pytest.mark.slow


def test_no_poison_stops_ingest(tmp_path: Path, broker: Broker, hub_db_url: str | None):
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    hub.start()
    bad_topic, good_topic = topics.events("sbad", "g1"), topics.events("sgood", "g1")
    bad_seq = good_seq = 0
    outcome: list[str] = []
    try:
        for case in CASES:
            before = len(_rejected(hub))
            if case.takes_seq:
                bad_seq += 1
            publish(broker.port, bad_topic, case.payload(bad_seq or 1, "sbad"))
            # the poison is recorded with its reason, whatever bytes it had
            rows = wait_until(
                lambda n=before: (r := _rejected(hub))[: len(r) - n],
                30,
                what=f"{case.name} recorded\n{hub.tail()}",
                abort=hub.died,
            )
            assert len(rows) == 1 and case.reason in rows[0]["reason"], (case.name, rows)
            assert "\x00" not in rows[0]["raw"] and "\x00" not in rows[0]["reason"]
            # ... another store's sale still books
            good_seq += 1
            publish(broker.port, good_topic, batch(sale(good_seq, "sgood")))
            wait_until(
                lambda n=good_seq: hub.last_seq("sgood", "g1") == n,
                30,
                what=f"sgood seq {good_seq} after {case.name}\n{hub.tail()}",
                abort=hub.died,
            )
            # ... and the poisoned gateway's next event applies after it
            bad_seq += 1
            publish(broker.port, bad_topic, batch(sale(bad_seq, "sbad")))
            wait_until(
                lambda n=bad_seq: hub.last_seq("sbad", "g1") == n,
                30,
                what=f"sbad seq {bad_seq} after {case.name}\n{hub.tail()}",
                abort=hub.died,
            )
            health = hub.http.get("/health")
            assert health.status_code == 200 and health.json()["ok"], (case.name, health.text)
            assert hub.http.get("/api/ingest/status").json()["healthy"], case.name
            outcome.append(case.name)
        # garbage on a gateway's status topic, which the ingest worker reads too
        for junk in (b"[" * 200_000 + b"]" * 200_000, b"\x00\xff", b"[]"):
            publish(broker.port, topics.status("sbad", "g1"), junk)
        good_seq += 1
        publish(broker.port, good_topic, batch(sale(good_seq, "sgood")))
        wait_until(lambda: hub.last_seq("sgood", "g1") == good_seq, 30, what="after status junk")
        assert hub.http.get("/api/ingest/status").json()["worker"]["restarts"] == 0
        assert len(hub.sale_ids("sgood")) == len(CASES) + 1
        assert len(hub.sale_ids("sbad")) == len(CASES)
        assert len(_rejected(hub)) == len(CASES)
        print(f"\n{len(outcome)} poison inputs, none stopped ingest: {', '.join(outcome)}")
        assert "Traceback" not in hub.log.read_text()
    finally:
        hub.stop()


def _rejected(hub: Hub) -> list[dict]:
    return hub.http.get("/api/ingest/rejected", params={"limit": 1000}).json()["rejected"]
