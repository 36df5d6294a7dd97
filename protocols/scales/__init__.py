"""Scale wire protocols as sans-I/O parsers: feed bytes with `receive_data()`, take events with
`next_event()`; command builders return the bytes to send. The events below are shared by every
protocol so a driver (and the lane) never cares which scale it talks to.

Weights are `Decimal` in the scale's unit and converted to integer grams with `grams`; nothing
here uses float."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from protocols.stream import EventParser

_PER_GRAM = {
    "kg": Decimal(1000),
    "g": Decimal(1),
    "lb": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}


@dataclass(frozen=True)
class Weight:
    """A weight reading. `stable` is the scale's own motion flag (no motion)."""

    value: Decimal
    unit: str = "kg"
    stable: bool = True
    net: bool = False
    raw: bytes = field(default=b"", compare=False, repr=False)  # the frame it came from

    @property
    def grams(self) -> int:
        """The reading in whole grams, half up (retail scales divide in 1, 2 or 5 g anyway)."""
        per = _PER_GRAM.get(self.unit.lower())
        if per is None:
            raise ValueError(f"unit {self.unit!r} is not a weight unit")
        return int((self.value * per).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Status:
    """The scale cannot give a weight now and says why."""

    motion: bool = False
    over_capacity: bool = False
    under_zero: bool = False
    busy: bool = False
    outside_zero_range: bool = False
    centre_of_zero: bool = False

    def reason(self) -> str:
        parts = [
            text
            for flag, text in (
                (self.motion, "weight is not stable (motion)"),
                (self.over_capacity, "over capacity"),
                (self.under_zero, "under zero"),
                (self.busy, "scale is busy"),
                (self.outside_zero_range, "outside zero-capture range"),
            )
            if flag
        ]
        return ", ".join(parts) or "no weight"


@dataclass(frozen=True)
class Acknowledged:
    """A command was done (zero, tare, clear tare) or the scale says it is ready (CAS ACK)."""

    command: str
    value: Weight | None = None  # the tare weight, when the scale reports it


@dataclass(frozen=True)
class Rejected:
    """The scale understood the frame but refused the command."""

    command: str
    reason: str


@dataclass(frozen=True)
class Identity:
    """An identification reply (MT-SICS I4 serial number, Toledo E echo)."""

    text: str


@dataclass(frozen=True)
class FrameError:
    """Bytes that are not a valid frame; the parser has skipped them and resynchronised."""

    data: bytes
    reason: str

    @property
    def high_bit(self) -> bool:
        """Bytes with bit 7 set: the classic sign of a 7E1 scale read as 8N1."""
        return any(b & 0x80 for b in self.data)


ScaleEvent = Weight | Status | Acknowledged | Rejected | Identity | FrameError

# A frame never gets longer than this; a parser that has buffered more without finding one drops it.
MAX_FRAME = 64


def parse_decimal(text: str) -> Decimal | None:
    """A weight field ('01.250', '  -1.2', '0.5'): digits with at most one point, optional sign."""
    t = text.strip()
    sign = ""
    if t[:1] in "+-" and t:
        sign, t = ("-" if t[0] == "-" else ""), t[1:].strip()
    if not t or t.count(".") > 1 or not t.replace(".", "").isdigit() or not t.isascii():
        return None
    if t.startswith(".") or t.endswith("."):
        return None
    return Decimal(sign + t)


class FrameParser(EventParser[ScaleEvent]):
    """The sans-I/O skeleton every scale protocol shares (protocols/stream.py), plus
    `expire()` for a driver whose reply did not complete in time."""

    def expire(self) -> None:
        """The rest of the buffer will never become a frame: report it as truncated."""
        if self._buf:
            self._error(len(self._buf), "truncated frame (no end before the timeout)")

    def _error(self, upto: int, reason: str) -> None:
        self._emit(FrameError(bytes(self._buf[:upto]), reason))
        del self._buf[:upto]

    def _parse(self) -> None:  # pragma: no cover - each protocol implements it
        raise NotImplementedError


__all__ = [
    "MAX_FRAME",
    "Acknowledged",
    "FrameError",
    "FrameParser",
    "Identity",
    "Rejected",
    "ScaleEvent",
    "Status",
    "Weight",
    "parse_decimal",
]
