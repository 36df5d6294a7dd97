"""Real parts for device tests: simulators on real ptys and FIFOs, the real registry and routes
on a real aiohttp server bound to a free port, a real SQLite file in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge.devices import discovery, lanes_io, scale, scanner  # noqa: F401 - drivers register
from edge.devices.base import Context
from edge.devices.registry import Devices
from edge.journal import Journal
from edge.lane_bus import LaneBus

# fast timings for simulators (the profiles keep the real ones)
FAST = {
    "poll_interval_ms": 20,
    "command_gap_ms": 0,
    "reply_timeout_ms": 300,
    "settle_timeout_ms": 700,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    journal = Journal(tmp_path / "journal.db", "s1", "g1")  # the gateway lends its journal's db
    yield Context(LaneBus(), tmp_path, db=journal.db)
    journal.close()


@asynccontextmanager
async def gateway(devices: Devices) -> AsyncIterator[TestClient]:
    """The gateway's device routes on a real socket, as the gateway mounts them."""
    app = web.Application()
    app.add_routes(devices.routes())
    app.add_routes(lanes_io.lane_routes(devices))
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await devices.stop()


def fast(device: Any) -> Any:
    device.backoff_min = 0.05
    device.backoff_max = 0.2
    return device
