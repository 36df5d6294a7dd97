"""The test rig itself: a port taken by someone else never fails a start, and a process that
dies while being waited for fails the wait at once, with its log."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.conftest import Broker, Edge


def test_a_restart_whose_port_was_taken_moves_to_a_free_one(tmp_path: Path, broker: Broker) -> None:
    edge = Edge(tmp_path / "e", "s1", "g1", broker.url)
    edge.start()
    try:
        old = edge.port
        edge.kill()
        squatter = socket.create_server(("127.0.0.1", old))  # someone takes it meanwhile
        try:
            edge.start()
            assert edge.port != old
            assert edge.http.get("/health").status_code == 200
        finally:
            squatter.close()
    finally:
        edge.stop()


def test_a_child_that_dies_ends_the_wait_at_once(tmp_path: Path) -> None:
    edge = Edge(tmp_path / "e", "s1", "g1", "mqtt://127.0.0.1:1")
    edge.args = [*edge.args, "--tz", "No/Such_Zone"]  # refused at start
    began = time.monotonic()
    with pytest.raises(AssertionError, match="exited with"):
        edge.start()
    assert time.monotonic() - began < 20


def test_a_broker_whose_port_was_taken_before_its_first_start_moves(tmp_path: Path) -> None:
    b = Broker(tmp_path / "b")
    squatter = socket.socket()  # bound, not listening: as a client's ephemeral port would be
    squatter.bind(("127.0.0.1", b.port))
    try:
        b.start()
        assert b.port != squatter.getsockname()[1]
    finally:
        squatter.close()
        b.stop()
