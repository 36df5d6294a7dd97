"""The gateway's `/metrics` (Prometheus text format): sales booked, the journal's backlog and
how fast the hub drains it, the uplink's connection and the age of the last ack, device errors
and print failures. Built at scrape time from what the gateway keeps anyway; the text format
comes from protocols/prometheus.py (no prometheus_client: see there).

Auth: the gateway's API token, or a token for scrapers only that reads nothing else —
STOREGW_METRICS_TOKEN, else `<data dir>/metrics-token` (made on first start, mode 0600)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from protocols.prometheus import CONTENT_TYPE, Family, render
from transport.token_file import bearer_ok, load_or_create

if TYPE_CHECKING:  # types only: sqlite_utils (the journal) imported this early costs ~3 MB RSS
    from edge.devices.base import Context
    from edge.devices.registry import Devices
    from edge.journal import Journal
    from edge.uplink import Uplink

PATH = "/metrics"
SAMPLE_S = 5.0  # the drain rate is the acked seq's slope over the last minute
WINDOW = 13


class GatewayMetrics:
    def __init__(
        self,
        journal: Journal,
        uplink: Uplink,
        devices: Devices,
        ctx: Context,
        data_dir: Path,
        api_token: str,
    ) -> None:
        self.journal, self.uplink, self.devices = journal, uplink, devices
        scraper = load_or_create(data_dir, "STOREGW_METRICS_TOKEN", "metrics-token")
        self.tokens = (api_token, scraper)
        self.sales = 0
        self.sales_fen = 0
        self.started = time.time()
        self._acked: deque[tuple[float, int]] = deque(maxlen=WINDOW)
        ctx.sale_hooks.append(self._after_sale)

    async def _after_sale(self, env: dict[str, Any]) -> None:
        self.sales += 1
        self.sales_fen += int(env["body"]["total_fen"])

    async def sample(self) -> None:
        """Record the acked seq every few seconds, for the drain rate (run as a task)."""
        while True:
            self._acked.append((time.monotonic(), self.journal.last_acked))
            await asyncio.sleep(SAMPLE_S)

    def drain_rate(self) -> float:
        if len(self._acked) < 2:
            return 0.0
        (t0, a0), (t1, a1) = self._acked[0], self._acked[-1]
        return (a1 - a0) / (t1 - t0) if t1 > t0 else 0.0

    def _last_ack_age(self) -> float:
        """Seconds since the hub's last ack (the acked row keeps when); NaN if none is known."""
        row = self.journal.conn.execute(
            "SELECT acked_at FROM events WHERE seq = ?", (self.journal.last_acked,)
        ).fetchone()
        return time.time() - row[0] if row and row[0] else float("nan")

    def families(self) -> list[Family]:
        j = self.journal.stats()
        up = self.uplink.stats()
        device_up = Family("storegw_device_up", "gauge", "1 when the device is online")
        device_errors = Family(
            "storegw_device_errors_total", "counter",
            "times the device failed to connect or lost its link, since start",
        )  # fmt: skip
        jobs = Family("storegw_print_jobs", "gauge", "print jobs in the queue by state")
        print_failures = Family(
            "storegw_print_failures_total", "counter",
            "print jobs that failed or were interrupted (retried or left to reprint), since start",
        )  # fmt: skip
        for d in sorted(self.devices.by_id.values(), key=lambda d: d.spec.id):
            labels = {"device": d.spec.id, "kind": d.kind}
            device_up.add(1 if d.state == "online" else 0, **labels)
            device_errors.add(d.failures, **labels)
            if queue := getattr(d, "queue", None):
                for state, n in sorted(queue.counts(d.spec.id).items()):
                    jobs.add(n, printer=d.spec.id, state=state)
                print_failures.add(d.print_failures, printer=d.spec.id)
        return [
            Family("storegw_info", "gauge", "this gateway").add(
                1, store=self.journal.store, gateway=self.journal.gateway
            ),
            Family("storegw_start_time_seconds", "gauge", "when the process started (unix time)")
            .add(self.started),
            Family("storegw_sales_total", "counter", "sales booked at the lanes, since start")
            .add(self.sales),
            Family("storegw_sales_fen_total", "counter", "their totals in fen, since start")
            .add(self.sales_fen),
            Family("storegw_journal_last_seq", "counter", "the journal's last seq").add(
                j["last_seq"]
            ),
            Family(
                "storegw_journal_acked_seq", "counter",
                "the last seq the hub acknowledged (its rate is the drain rate)",
            ).add(j["last_acked_seq"]),
            Family("storegw_journal_backlog_events", "gauge", "events the hub has not acked")
            .add(j["backlog"]),
            Family(
                "storegw_journal_oldest_unacked_age_seconds", "gauge",
                "age of the oldest event the hub has not acked (0 when none)",
            ).add(j["oldest_unacked_age_s"]),
            Family("storegw_journal_alarm", "gauge", "1 while the journal's alarm is raised")
            .add(1 if j["alarm"] else 0),
            Family(
                "storegw_uplink_drain_rate_events_per_second", "gauge",
                "events acked per second over the last minute",
            ).add(round(self.drain_rate(), 3)),
            Family("storegw_uplink_connected", "gauge", "1 while connected to the broker")
            .add(1 if up["connected"] else 0),
            Family("storegw_hub_online", "gauge", "1 while the hub's retained status says online")
            .add(1 if up["hub_online"] else 0),
            Family("storegw_uplink_last_ack_age_seconds", "gauge",
                   "seconds since the hub's last ack (NaN: none known)").add(self._last_ack_age()),
            Family("storegw_uplink_rewinds_total", "counter", "resends from the last ack")
            .add(up["rewinds"]),
            device_up,
            device_errors,
            jobs,
            print_failures,
        ]  # fmt: skip

    async def handle(self, request: web.Request) -> web.Response:
        # open to the API's middleware; either token is checked here
        header = request.headers.get("Authorization")
        if not any(bearer_ok(header, t) for t in self.tokens):
            return web.json_response(
                {"error": "missing or wrong bearer token (the API's or the metrics token)"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = render(self.families()).encode()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.handle)]
