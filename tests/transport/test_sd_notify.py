"""sd_notify for the systemd units (Type=notify, WatchdogSec=): the real `storegw edge` and
`storegw hub`, started with NOTIFY_SOCKET naming a unix datagram socket of the test's and a
watchdog of 0.4 s, say READY=1 once they answer HTTP, then WATCHDOG=1 again and again from their
event loops, and STOPPING=1 when stopped."""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Broker, Edge, Hub


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    # a short path of its own: a unix socket's path is limited to 107 bytes
    with tempfile.TemporaryDirectory(prefix="sdn-") as d:
        path = f"{d}/notify"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.bind(path)
            yield s, path


def messages(s: socket.socket, until: str, timeout: float) -> list[str]:
    """Datagrams received until one contains `until` (each blocking read bounded)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(s.recv(4096).decode())
        except TimeoutError:
            break
        if until in got[-1]:
            return got
    raise AssertionError(f"no {until!r} within {timeout} s; got {got}")


def check(server: Edge | Hub, s: socket.socket, path: str) -> None:
    server.env.update({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    server.start(wait=False)  # only until its port file: READY=1 is what we wait for
    try:
        first = messages(s, "READY=1", 90)
        ready = next(m for m in first if "READY=1" in m)
        assert f"MAINPID={server.proc.pid}" in ready and "STATUS=" in ready
        # ready means serving: it answers at once
        anon = httpx.Client(base_url=server.http.base_url, timeout=10)
        assert anon.get("/health").status_code == 200
        pings = [m for m in messages(s, "WATCHDOG=1", 10) if m == "WATCHDOG=1"]
        pings += [m for m in messages(s, "WATCHDOG=1", 10) if m == "WATCHDOG=1"]
        assert len(pings) >= 2
    finally:
        server.stop()
    assert any("STOPPING=1" in m for m in messages(s, "STOPPING=1", 10))


def test_the_gateway_notifies_systemd(
    tmp_path: Path, broker: Broker, notify_socket: tuple[socket.socket, str]
) -> None:
    check(Edge(tmp_path / "edge", "s1", "g1", broker.url), *notify_socket)


def test_the_hub_notifies_systemd(
    tmp_path: Path, broker: Broker, notify_socket: tuple[socket.socket, str]
) -> None:
    check(Hub(tmp_path / "hub", broker.url), *notify_socket)
