"""The gateway's /metrics on the real process (`storegw edge`, a broker, no hub): it needs the
API token or the metrics token (which opens nothing else), and it counts what happened — sales
booked, the backlog the hub has not acked, the uplink's state, a printer that fails mid-job and
a declared device that is not there."""

from __future__ import annotations

import math
from pathlib import Path

import httpx

from edge.sim.printer import PrinterSim
from tests.conftest import Broker, Edge, wait_until
from tests.edge.payments.procs import SimThread
from tests.metrics_text import parse, value


def test_metrics_count_sales_backlog_and_device_trouble(tmp_path: Path, broker: Broker) -> None:
    printer = SimThread(PrinterSim(columns=48))
    host, port = printer.started
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(
        "[[device]]\n"
        'id = "p1"\nkind = "printer"\nprofile = "epson-tm-t88"\n'
        f'port = "{host}:{port}"\nlane = "1"\npoll_interval_s = 0.05\n'
        "[[device]]\n"  # declared, never plugged in: nothing listens on port 9
        'id = "p2"\nkind = "printer"\nprofile = "epson-tm-t88"\nport = "127.0.0.1:9"\n',
        "utf-8",
    )
    edge = Edge(data, "s1", "g1", broker.url)
    edge.start()
    try:
        anon = httpx.Client(base_url=edge.http.base_url, timeout=10)
        assert anon.get("/metrics").status_code == 401
        scraper = (data / "metrics-token").read_text().strip()
        assert oct((data / "metrics-token").stat().st_mode & 0o777) == "0o600"
        as_scraper = {"Authorization": f"Bearer {scraper}"}
        answer = anon.get("/metrics", headers=as_scraper)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert anon.get("/api/journal", headers=as_scraper).status_code == 401  # metrics only

        wait_until(
            lambda: edge.http.get("/api/devices/p1").json()["state"] == "online", 20,
            what="printer online",
        )  # fmt: skip
        printer.soon(printer.sim.paper_out_after, 5)
        totals = [edge.sell(n).json()["total_fen"] for n in (1, 2)]

        def metrics() -> dict[str, float]:
            return parse(edge.http.get("/metrics").text)

        wait_until(
            lambda: metrics().get('storegw_print_failures_total{printer="p1"}') == 1, 20,
            what="the failed print job counted",
        )  # fmt: skip
        m = metrics()
        assert value(m, "storegw_sales_total") == 2
        assert value(m, "storegw_sales_fen_total") == sum(totals)
        assert value(m, "storegw_journal_last_seq") == 2
        assert value(m, "storegw_journal_backlog_events") == 2  # no hub: nothing acked
        assert value(m, "storegw_journal_oldest_unacked_age_seconds") >= 0
        assert value(m, "storegw_uplink_connected") == 1 and value(m, "storegw_hub_online") == 0
        assert math.isnan(value(m, "storegw_uplink_last_ack_age_seconds"))
        assert value(m, "storegw_uplink_drain_rate_events_per_second") == 0
        assert value(m, 'storegw_print_jobs{printer="p1",state="failed"}') >= 1
        assert value(m, 'storegw_device_up{device="p1",kind="printer"}') == 1
        assert value(m, 'storegw_device_up{device="p2",kind="printer"}') == 0
        assert value(m, 'storegw_device_errors_total{device="p2",kind="printer"}') >= 1
        assert value(m, 'storegw_info{store="s1",gateway="g1"}') == 1
    finally:
        edge.stop()
        printer.stop()
