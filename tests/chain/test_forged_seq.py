"""A forged event on a gateway's events topic (an anonymous broker lets anyone publish there)
takes the seq the gateway is about to use. Whether the forgery was rejected or applied, and
whether it came before or after the real event, the gateway's real sale is booked, the clash
is listed in GET /api/ingest/conflicts and alarmed in the log, and the gateway's stream goes on.
Real Mosquitto, hub and gateway processes; SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols import topics
from tests.conftest import Broker, Edge, Hub, wait_until
from tests.hub.ingest.poison import batch, publish, sale

pytestmark = pytest.mark.slow


def test_a_forged_seq_never_costs_a_real_sale(
    tmp_path: Path, broker: Broker, hub_db_url: str | None
):
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    hub.start()
    edge.start()
    topic = topics.events("s1", "g1")

    def sell(n: int, seq: int) -> str:
        r = edge.sell(n)
        assert r.status_code == 201 and r.json()["seq"] == seq, r.text
        sale_id = r.json()["sale_id"]
        wait_until(
            lambda: sale_id in hub.sale_ids("s1") and edge.journal()["backlog"] == 0,
            30,
            what=f"sale {seq} booked and acked",
            abort=lambda: hub.died() or edge.died(),
        )
        return str(sale_id)

    def forge(env: dict) -> str:
        publish(broker.port, topic, batch(env))
        wait_until(lambda: hub.last_seq("s1", "g1") >= env["seq"], 30, what="the forgery handled")
        return str(env["id"])

    try:
        real = [sell(1, 1)]
        # 1. a forgery that is rejected takes seq 2 before the gateway uses it
        bad = sale(2, "s1")
        bad["body"]["total_fen"] += 1
        forged_rejected = forge(bad)
        real.append(sell(2, 2))
        # 2. a well-formed forgery is booked at seq 3 before the gateway uses it
        forged_booked = forge(sale(3, "s1"))
        real.append(sell(3, 3))
        # 3. a forgery for a seq the gateway already used
        forged_late = sale(1, "s1")
        publish(broker.port, topic, batch(forged_late))

        def conflicts() -> list[dict]:
            return hub.http.get("/api/ingest/conflicts", params={"store": "s1"}).json()["conflicts"]

        rows = wait_until(lambda: len(c := conflicts()) == 3 and c, 30, what="3 conflicts")
        by_seq = {c["seq"]: c for c in rows}
        assert (by_seq[2]["event_id"], by_seq[2]["occupant"], by_seq[2]["occupant_id"]) == (
            real[1],
            "rejected",
            forged_rejected,
        )
        assert (by_seq[3]["event_id"], by_seq[3]["occupant"], by_seq[3]["occupant_id"]) == (
            real[2],
            "applied",
            forged_booked,
        )
        assert (by_seq[1]["event_id"], by_seq[1]["occupant_id"]) == (forged_late["id"], real[0])
        assert all(c["outcome"] == "applied" for c in rows)
        # every real sale is booked; the stream goes on
        real.append(sell(4, 4))
        booked = set(hub.sale_ids("s1"))
        assert set(real) <= booked
        assert booked - set(real) == {forged_booked, forged_late["id"]}  # listed as conflicts
        assert hub.log.read_text().count("ALARM seq conflict") == 3
        assert hub.status()[("s1", "g1")]["last_seq"] == 4
    finally:
        edge.stop()
        hub.stop()
