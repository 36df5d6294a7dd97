"""`storegw edge` stops when told (SIGTERM: systemd's stop and restart), even with a cashier
page's event stream open: the stream ends at once, the page reconnects to the next gateway,
and the process exits cleanly instead of waiting out the HTTP server's shutdown timeout
(60 s) to be killed."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from tests.conftest import Broker, Edge


def test_sigterm_ends_open_lane_streams_and_the_gateway_exits(tmp_path: Path, broker: Broker):
    edge = Edge(tmp_path / "e", "s1", "g1", broker.url)
    edge.start()
    opened, ended = threading.Event(), threading.Event()

    def screen() -> None:  # a cashier page listening to its lane
        with edge.http.stream("GET", "/api/lanes/1/events", timeout=None) as r:
            assert r.status_code == 200
            opened.set()
            for _ in r.iter_bytes():
                pass
        ended.set()

    listener = threading.Thread(target=screen, daemon=True)
    listener.start()
    try:
        assert opened.wait(10), "the lane's stream did not open"
        assert edge.proc is not None
        edge.proc.terminate()
        try:
            code = edge.proc.wait(10)  # a hang is what fails here, not a slow machine
        except subprocess.TimeoutExpired:
            raise AssertionError("the gateway did not exit on SIGTERM with a stream open") from None
        assert code == 0, edge.tail()
        assert ended.wait(5), "the page's stream was not ended"
    finally:
        edge.stop()
