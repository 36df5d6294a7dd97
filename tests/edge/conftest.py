"""What the gateway's tests share: `edge`, a real `storegw edge` holding the small shop's
snapshots (rig/lane_store.py), as after a restart without the hub. A module that needs another
gateway (no shop, other promotions, accounts, devices) defines its own `edge`, which pytest
uses there instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.lane_store import write_snapshots
from rig.processes import Broker, Edge


@pytest.fixture
def edge(tmp_path: Path, broker: Broker) -> Iterator[Edge]:
    write_snapshots(tmp_path / "edge", "s1")
    e = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    e.start()
    yield e
    e.stop()
