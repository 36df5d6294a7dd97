"""Scenario 2: the broker down for a while (STOREGW_FAULT_OUTAGE_S, 10 s by default so the
suite stays short; the drill in docs/reliability.md uses 60) while four lanes keep selling;
scenario 3: a half-open link, the broker frozen with SIGSTOP (its TCP connections stay open,
nothing answers) for longer than the keepalive, then SIGCONT. Both end with the hub holding
exactly the confirmed sales, points and stock consistent."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from rig.processes import Broker, Edge, Hub
from rig.waiting import wait_until
from tests.faults.burst import Burst, account, assert_goal, caught_up, drain, new_member

pytestmark = pytest.mark.slow

OUTAGE_S = float(os.environ.get("STOREGW_FAULT_OUTAGE_S", "10"))
KEEPALIVE_S = 2  # the gateway's and the hub's, through ?keepalive= in the MQTT URL


def test_broker_down_while_selling(tmp_path: Path, broker: Broker):
    hub = Hub(tmp_path / "hub", broker.url)
    hub.start()
    edge = Edge(tmp_path / "e", "s1", "g1", broker.url)
    edge.start()
    per_lane = 150
    burst = None
    try:
        member = new_member(hub)
        # paced so the lanes sell before, through and after the outage
        burst = Burst(edge, "o", per_lane=per_lane, member=member, pace_s=(OUTAGE_S + 6) / per_lane)
        burst.start()
        wait_until(lambda: burst.count >= 60, 60, what="sales before the outage")
        broker.stop()
        before = burst.count
        time.sleep(OUTAGE_S)  # the fault itself lasts this long; nothing is awaited
        during = burst.count - before
        assert during > 0, "the lanes stopped selling without a broker"
        assert edge.journal()["uplink"]["connected"] is False
        broker.start()
        recovered = caught_up(hub, edge)
        burst.join(120)
        drain(hub, edge)
        fig = account(f"broker down {OUTAGE_S:.0f} s", hub, edge, [burst], recovered, member)
        print(f"sold during the outage: {during}", flush=True)
        assert_goal(fig)
    finally:
        if burst:
            burst.stop.set()
        edge.stop()
        hub.stop()


def test_half_open_link(tmp_path: Path, broker: Broker):
    url = f"{broker.url}?keepalive={KEEPALIVE_S}"
    hub = Hub(tmp_path / "hub", url)
    hub.start()
    edge = Edge(tmp_path / "e", "s1", "g1", url)
    edge.start()
    per_lane = 120
    burst = None
    assert broker.proc is not None
    frozen = broker.proc
    try:
        member = new_member(hub)
        connects = edge.journal()["uplink"]["connects"]
        burst = Burst(edge, "h", per_lane=per_lane, member=member, pace_s=12 / per_lane)
        burst.start()
        wait_until(lambda: burst.count >= 60, 60, what="sales before the freeze")
        frozen.send_signal(signal.SIGSTOP)
        # the sockets stay open: only the keepalive can tell the gateway the broker is gone
        t0 = time.monotonic()
        wait_until(
            lambda: edge.journal()["uplink"]["connected"] is False,
            KEEPALIVE_S * 4,
            what="the gateway to notice the frozen broker",
        )
        noticed = time.monotonic() - t0
        assert burst.count < 4 * per_lane, "the burst ended before the freeze"
        time.sleep(max(0.0, KEEPALIVE_S * 3 - noticed))  # frozen well past the keepalive
        frozen.send_signal(signal.SIGCONT)
        recovered = caught_up(hub, edge)
        wait_until(
            lambda: edge.journal()["uplink"]["connects"] > connects,
            KEEPALIVE_S * 10,
            what="the gateway to reconnect",
        )
        burst.join(120)
        drain(hub, edge)
        fig = account("half-open link (SIGSTOP)", hub, edge, [burst], recovered, member)
        print(f"frozen broker noticed after {noticed:.1f} s (keepalive {KEEPALIVE_S} s)")
        assert "lost the broker" in edge.log.read_text()
        assert_goal(fig)
    finally:
        if frozen.poll() is None:
            frozen.send_signal(signal.SIGCONT)
        if burst:
            burst.stop.set()
        edge.stop()
        hub.stop()
