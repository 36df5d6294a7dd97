"""Many callers at once: the shape of every claim-exactly-once test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def race(n: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run attempt(i) in n threads released at once; each result or the exception raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = attempt(i)
        except Exception as err:
            results[i] = err

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results
