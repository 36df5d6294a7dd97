"""Serial scanners (USB CDC or RS-232): each scan ends with the suffix the profile names (CR)."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.stream import EventParser

MAX_SCAN = 4096  # more than this without a suffix: the scanner's suffix is not configured


@dataclass(frozen=True)
class Overflow:
    """MAX_SCAN bytes came without the suffix; they were dropped."""

    dropped: int


class SuffixScans(EventParser[bytes | Overflow]):
    """`receive_data(chunk)`; `next_event()` gives each scan's raw bytes (without the suffix)."""

    def __init__(self, suffix: bytes = b"\r") -> None:
        super().__init__()
        if not suffix:
            raise ValueError("a scan suffix cannot be empty")
        self.suffix = suffix

    def _parse(self) -> None:
        while (end := self._buf.find(self.suffix)) >= 0:
            self._emit(bytes(self._buf[:end]))
            del self._buf[: end + len(self.suffix)]
        if len(self._buf) > MAX_SCAN:
            self._emit(Overflow(len(self._buf)))
            self._buf.clear()
