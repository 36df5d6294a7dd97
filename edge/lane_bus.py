"""Where device input meets the lanes: scanners and scales publish per-lane events, the lane's
cashier page (and tests) subscribe. In memory on purpose: a scan not yet in a basket is not a
sale, and the journal only takes what the cashier commits."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

LaneEvent = dict[str, Any]
Listener = Callable[[str, LaneEvent], None]
CLOSED: LaneEvent = {"type": "closed"}  # the last event a subscriber gets: the gateway stops


class LaneBus:
    def __init__(self, queue_size: int = 256) -> None:
        self._subs: dict[str, set[asyncio.Queue[LaneEvent]]] = defaultdict(set)
        self._queue_size = queue_size
        self.last: dict[str, LaneEvent] = {}
        self._listeners: list[Listener] = []
        self.closed = False

    def listen(self, listener: Listener) -> None:
        """Called in the publisher's turn for every event (the baskets take scans this way:
        no queue in between). A listener must not block."""
        self._listeners.append(listener)

    def publish(self, lane: str, event: LaneEvent) -> None:
        self.last[lane] = event
        for listener in self._listeners:
            listener(lane, event)
        for q in list(self._subs[lane]):
            if q.full():  # a stalled page must not block the scanner: drop its oldest
                q.get_nowait()
            q.put_nowait(event)

    def subscribe(self, lane: str) -> asyncio.Queue[LaneEvent]:
        q: asyncio.Queue[LaneEvent] = asyncio.Queue(self._queue_size)
        if self.closed:
            q.put_nowait(CLOSED)
        self._subs[lane].add(q)
        return q

    def close(self) -> None:
        """End every subscriber's stream (CLOSED): a screen's open event stream must not hold
        the gateway's stop until the HTTP server's shutdown timeout."""
        self.closed = True
        for subs in self._subs.values():
            for q in subs:
                if q.full():
                    q.get_nowait()
                q.put_nowait(CLOSED)

    def unsubscribe(self, lane: str, q: asyncio.Queue[LaneEvent]) -> None:
        self._subs[lane].discard(q)
