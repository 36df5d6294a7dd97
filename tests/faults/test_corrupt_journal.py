"""Scenario 5: the gateway's journal damaged while it was down (bytes flipped in the SQLite
file: a failing card, a power cut on cheap flash). The gateway must refuse to start with a
clear message naming the way out; `storegw edge recover --data-dir D` salvages what is
readable into a new journal and keeps the damaged file aside; the gateway then starts and
everything the lanes were confirmed reaches the hub exactly once."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from rig.processes import Broker, Edge, Hub
from rig.waiting import wait_until
from tests.faults.burst import Burst, account, assert_goal, caught_up, drain, new_member

pytestmark = pytest.mark.slow


def _flip_page(db: Path, index: str) -> int:
    """Overwrite the root page of an index with random bytes; returns the page number."""
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (index,)).fetchone()[0]
    conn.close()
    rnd = random.Random(root)
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes(rnd.randrange(256) for _ in range(page_size)))
    return int(root)


def test_corrupt_journal_refused_then_recovered(tmp_path: Path, broker: Broker):
    hub = Hub(tmp_path / "hub", broker.url)
    hub.start()
    data = tmp_path / "e"
    edge = Edge(data, "s1", "g1", broker.url)
    edge.start()
    try:
        member = new_member(hub)
        hub.stop()  # what is sold now stays in the journal only
        burst = Burst(edge, "c", per_lane=75, member=member).start()
        burst.join(120)
        assert edge.journal()["backlog"] == burst.count
        edge.stop()
        assert not (data / "journal.db-wal").exists()  # checkpointed on a clean stop
        page = _flip_page(data / "journal.db", "sqlite_autoindex_events_1")

        with pytest.raises(AssertionError, match="exited with 3"):
            edge.start()  # it refuses: exit status 3, no port
        said = edge.tail()
        assert "journal" in said and "damaged" in said, said
        assert f"storegw edge recover --data-dir {data}" in said, said

        out = subprocess.run(
            [sys.executable, "-m", "storegw.cli", "edge", "recover", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        print(f"flipped page {page}; recover: {out.stdout.strip()}")
        assert f"events {burst.count}" in out.stdout and "events lost" not in out.stdout
        assert list(data.glob("journal.db.damaged-*"))  # kept aside, not deleted

        edge.start()
        assert edge.journal()["last_seq"] == burst.count
        hub.start()
        recovered = caught_up(hub, edge)
        after = Burst(edge, "c2", per_lane=10, member=member).start()  # and it sells again
        after.join(60)
        drain(hub, edge)
        fig = account("corrupt journal, recovered", hub, edge, [burst, after], recovered, member)
        assert_goal(fig)
        wait_until(lambda: edge.journal()["backlog"] == 0, 10, what="all acked")
    finally:
        edge.stop()
        hub.stop()
