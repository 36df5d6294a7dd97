"""The one shape of every sans-I/O wire parser in protocols/ (scales, ESC/POS, ZVT): bytes in
with `receive_data(data)`, events out with `next_event()` (None when no complete event is
buffered). Bytes to send come back from the caller's own calls (`request_weight() -> bytes`,
`EcrSession.start(apdu) -> bytes`); nothing here does I/O."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

E = TypeVar("E")


class EventParser(Generic[E]):
    """A byte buffer and an event queue. A protocol implements `_parse()`: take what it can from
    `self._buf` (deleting what it used) and `_emit()` an event for each complete unit."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._events: deque[E] = deque()

    def receive_data(self, data: bytes) -> None:
        self._buf += data
        self._parse()

    def next_event(self) -> E | None:
        return self._events.popleft() if self._events else None

    def events(self) -> list[E]:
        """Every event buffered now (for callers that take them all at once)."""
        out = list(self._events)
        self._events.clear()
        return out

    @property
    def pending(self) -> int:
        """Bytes received that are not (yet) part of a complete event."""
        return len(self._buf)

    def _emit(self, event: E) -> None:
        self._events.append(event)

    def _parse(self) -> None:  # pragma: no cover - each protocol implements it
        raise NotImplementedError
