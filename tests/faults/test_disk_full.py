"""Scenario 4: the gateway's disk fills up under a sale burst. Its data dir is a small tmpfs
(we run as root here; without the right to mount the test skips and says so); a ballast file
takes all but a little of it. The lanes must be refused with a clear 507 instead of anything
being corrupted; once the ballast is removed, sales resume, and everything journaled reaches
the hub exactly once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rig.processes import Broker, Edge, Hub
from rig.waiting import wait_until
from tests.faults.burst import Burst, account, assert_goal, caught_up, drain, new_member

pytestmark = pytest.mark.slow

SIZE = "8m"
LEFT_FREE = 600 * 1024  # what the ballast leaves: a few hundred sales' worth


def _mount(where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.strip()}): no full disk to test")


def _fill(where: Path) -> Path:
    ballast = where / "ballast"
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    with open(ballast, "wb") as f:
        f.write(b"\0" * max(0, free - LEFT_FREE))
    return ballast


def test_disk_full_refuses_then_resumes(tmp_path: Path, broker: Broker):
    data = tmp_path / "e"
    _mount(data)
    hub = Hub(tmp_path / "hub", broker.url)
    edge = Edge(data, "s1", "g1", broker.url)
    edge.env["STOREGW_MIN_FREE_MIB"] = "0"  # no floor: the disk itself runs out (ENOSPC)
    burst = None
    try:
        hub.start()
        edge.start()
        member = new_member(hub)
        ballast = _fill(data)
        burst = Burst(edge, "d", per_lane=250, member=member).start()
        wait_until(lambda: len(burst.refusals) >= 8, 90, what="the lanes to be refused")
        status, reason = burst.refusals[0]
        assert status == 507 and "disk is full" in reason, burst.refusals[:3]
        stuck = burst.count
        # the gateway is alive and its journal whole while the disk is full
        assert edge.http.get("/health").status_code == 200
        ballast.unlink()  # the technician frees space
        recovered = caught_up(hub, edge)
        wait_until(lambda: burst.count > stuck, 30, what="sales to resume")
        burst.join(120)
        assert "refused: the journal's disk is full" in edge.tail(400)
        edge.stop()  # a clean restart on the same file: it passes its integrity check
        edge.start()
        drain(hub, edge)
        fig = account("gateway disk full", hub, edge, [burst], recovered, member)
        print(f"refused while full: {len(burst.refusals)} answers, e.g. {status} {reason!r}")
        assert_goal(fig)
    finally:
        if burst:
            burst.stop.set()
        edge.stop()
        hub.stop()
        subprocess.run(["umount", "-l", str(data)], check=False)
