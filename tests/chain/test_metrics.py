"""Both sides' /metrics with the hub draining a gateway: the gateway's backlog goes to zero,
its last ack is recent and its drain rate above zero; the hub counts the applied events and
the gateway's last seq, and its /metrics needs an HQ token."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Broker, Edge, Hub, wait_until
from tests.metrics_text import parse, value


def test_metrics_follow_a_gateway_drained_by_the_hub(tmp_path: Path, broker: Broker) -> None:
    hub = Hub(tmp_path / "hub", broker.url)
    hub.start()
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    edge.start()
    try:
        for n in range(3):
            assert edge.sell(n).status_code == 201

        def gateway() -> dict[str, float]:
            return parse(edge.http.get("/metrics").text)

        def hq() -> dict[str, float]:
            return parse(hub.http.get("/metrics").text)

        wait_until(lambda: gateway()["storegw_journal_acked_seq"] == 3, 30, what="acked")
        # the drain rate is sampled every 5 s: the next sample sees the acks
        wait_until(
            lambda: gateway()["storegw_uplink_drain_rate_events_per_second"] > 0, 20,
            what="a drain rate",
        )  # fmt: skip
        m = gateway()
        assert value(m, "storegw_journal_backlog_events") == 0
        assert 0 <= value(m, "storegw_uplink_last_ack_age_seconds") < 60
        assert value(m, "storegw_hub_online") == 1

        h = hq()
        assert value(h, "storegw_hub_ingest_applied_total") == 3
        assert value(h, 'storegw_hub_gateway_last_seq{store="s1",gateway="g1"}') == 3
        assert value(h, "storegw_hub_rejected_events") == 0
        assert value(h, "storegw_hub_ingest_conflicts") == 0
        assert value(h, "storegw_hub_ingest_queued_messages") == 0
        assert value(h, "storegw_hub_ingest_healthy") == 1
        assert value(h, "storegw_hub_mqtt_connected") == 1
        anon = httpx.Client(base_url=hub.http.base_url, timeout=10)
        assert anon.get("/metrics").status_code == 401
        assert hub.http.get("/metrics").headers["content-type"].startswith("text/plain")
    finally:
        edge.stop()
        hub.stop()
