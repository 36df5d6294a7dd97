"""Helpers for payment tests on the real gateway process (`storegw edge`): a simulator on an
asyncio loop of its own (so the test stays synchronous), and the lane's calls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

import httpx

from tests.conftest import Edge

S = TypeVar("S")


class SimThread(Generic[S]):
    """A device simulator (AggregatorSim, ZvtSim) served from a thread's event loop."""

    def __init__(self, sim: S) -> None:
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.started: Any = self.call(sim.start())  # type: ignore[attr-defined]

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def soon(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.call(self.sim.stop())  # type: ignore[attr-defined]
        self.loop.call_soon_threadsafe(self.loop.stop)


def sale_of(amount_fen: int, payments: list[dict[str, Any]]) -> dict[str, Any]:
    """A one-line sale of `amount_fen` paid by `payments`."""
    line = {"sku": "6901028075015", "name": "礼盒", "qty_milli": 1000,
            "unit_price_fen": amount_fen}  # fmt: skip
    return {"cashier": "张丽", "lines": [line], "payments": payments}


def sell(edge: Edge, key: str, body: dict[str, Any]) -> httpx.Response:
    return edge.http.post("/api/lanes/1/sales", json=body, headers={"Idempotency-Key": key})


def pay(edge: Edge, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return edge.http.post("/api/lanes/1/payments", json=body, timeout=timeout)


def payment(edge: Edge, key: str) -> dict[str, Any]:
    return dict(edge.http.get(f"/api/payments/{key}").json().get("payment") or {})
