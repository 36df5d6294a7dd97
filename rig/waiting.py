"""Waiting for a condition, the one way tests and benchmarks do it: poll until it holds, or
fail with what was last seen. Blocking (`wait_until`) for code that drives processes, awaitable
(`until`) for code inside an event loop; both share the same rules."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

# what a predicate may raise while the thing it asks is not up yet
NOT_YET = (httpx.HTTPError, OSError)


def _tries(
    timeout: float, what: str, abort: Callable[[], str | None] | None
) -> Generator[None, Any, Any]:
    """Send it each result of the predicate (or the error it raised); it stops with the first
    truthy one, and raises when the deadline passes or `abort` gives a reason. The predicate is
    asked once more after the deadline, so a slow machine is not failed by the sleep."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        if abort is not None and (reason := abort()):
            raise AssertionError(f"gave up waiting for {what}: {reason}")
        expired = time.monotonic() >= deadline
        last = yield
        if last and not isinstance(last, BaseException):
            return last
        if expired:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
    abort: Callable[[], str | None] | None = None,
) -> Any:
    """Poll `predicate` until it is truthy and return that value. `abort` (a reason or None)
    ends the wait at once, e.g. when the process being waited for has died."""
    tries = _tries(timeout, what, abort)
    next(tries)
    while True:
        try:
            got = predicate()
        except NOT_YET as err:
            got = err
        try:
            tries.send(got)
        except StopIteration as done:
            return done.value
        time.sleep(interval)


async def until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "condition",
    interval: float = 0.02,
    abort: Callable[[], str | None] | None = None,
) -> Any:
    """`wait_until` inside an event loop: the predicate may be a coroutine function."""
    tries = _tries(timeout, what, abort)
    next(tries)
    while True:
        try:
            got = predicate()
            if inspect.isawaitable(got):
                got = await got
        except NOT_YET as err:
            got = err
        try:
            tries.send(got)
        except StopIteration as done:
            return done.value
        await asyncio.sleep(interval)
