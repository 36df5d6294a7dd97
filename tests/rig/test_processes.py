"""The test rig itself: a port taken by someone else never fails a start, a process that dies
while being waited for fails the wait at once, with its log, and a wait fails with what it saw."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from rig import Broker, Edge, until, wait_until


@pytest.mark.slow
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
    assert time.monotonic() - began < edge.start_timeout / 2  # not the whole wait


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


def test_a_broker_never_takes_another_listener_for_itself(tmp_path: Path) -> None:
    """Another test's broker listening on the port first: answering connections is not proof
    that ours listens (it had not tried to bind yet, then died on the taken port)."""
    b = Broker(tmp_path / "b")
    squatter = socket.create_server(("127.0.0.1", b.port))
    try:
        b.start()
        assert b.port != squatter.getsockname()[1]
        assert b.proc is not None and b.proc.poll() is None
    finally:
        squatter.close()
        b.stop()


def test_a_wait_returns_what_held_and_fails_with_what_it_last_saw() -> None:
    seen = iter([0, None, ConnectionRefusedError("not yet"), 7])
    assert wait_until(lambda: next(seen), 5, interval=0.001) == 7
    with pytest.raises(AssertionError, match=r"waiting for the moon; last: False"):
        wait_until(lambda: False, 0.05, interval=0.01, what="the moon")
    with pytest.raises(AssertionError, match="gave up waiting for x: it died"):
        wait_until(lambda: False, 30, what="x", abort=lambda: "it died")
    with pytest.raises(ZeroDivisionError):  # a bug in the predicate is not "not yet"
        wait_until(lambda: 1 / 0, 5)


def test_the_awaitable_wait_takes_coroutines_and_fails_the_same_way() -> None:
    async def main() -> None:
        async def ready() -> str:
            return "yes"

        assert await until(ready) == "yes"
        with pytest.raises(AssertionError, match=r"timed out after 0\.05s waiting for y"):
            await until(lambda: [], 0.05, "y")

    asyncio.run(main())
