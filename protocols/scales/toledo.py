"""Mettler Toledo 8217 ("Toledo" POS protocol): 9600 7E1, single-letter commands.

Host → scale: `W` weight, `Z` zero, `T` tare, `C` clear tare (no reply to Z/T/C).
Scale → host: weight `STX digits [N] CR` (N = net), or status `STX ? <byte> CR` when it cannot
weigh: bit 0 motion, 1 over capacity, 2 under zero, 3 outside zero-capture range, 4 centre of
zero. Bits 5–6 differ between sources and are ignored."""

from __future__ import annotations

import re

from protocols.scales import MAX_FRAME, FrameParser, Status, Weight, parse_decimal

STX, CR = 0x02, 0x0D
_WEIGHT = re.compile(rb"^ *(\d+(?:\.\d+)?|\.\d+) *(N?)$")

REQUEST_WEIGHT = b"W"
ZERO = b"Z"
TARE = b"T"
CLEAR_TARE = b"C"


def request_weight() -> bytes:
    return REQUEST_WEIGHT


def zero() -> bytes:
    return ZERO


def tare() -> bytes:
    return TARE


def clear_tare() -> bytes:
    return CLEAR_TARE


def weight_frame(value: str, net: bool = False) -> bytes:
    """What the scale sends for a weight (used by the simulator and tests)."""
    return b"\x02" + value.encode("ascii") + (b"N" if net else b"") + b"\r"


def status_frame(
    motion: bool = False, over_capacity: bool = False, under_zero: bool = False
) -> bytes:
    bits = (1 if motion else 0) | (2 if over_capacity else 0) | (4 if under_zero else 0)
    return bytes([STX, ord("?"), bits, CR])


class ToledoParser(FrameParser):
    def __init__(self, unit: str = "kg") -> None:
        super().__init__()
        self.unit = unit

    def _parse(self) -> None:
        buf = self._buf
        while buf:
            if buf[0] != STX:
                nxt = buf.find(STX)
                self._error(len(buf) if nxt < 0 else nxt, "bytes outside a frame")
                continue
            if len(buf) >= 2 and buf[1] == ord("?"):
                # fixed length: the status byte itself may be 0x02 or 0x0D
                if len(buf) < 4:
                    return
                if buf[3] != CR:
                    self._error(2, "status frame without CR")
                    continue
                bits = buf[2]
                self._emit(
                    Status(
                        motion=bool(bits & 1),
                        over_capacity=bool(bits & 2),
                        under_zero=bool(bits & 4),
                        outside_zero_range=bool(bits & 8),
                        centre_of_zero=bool(bits & 16),
                    )
                )
                del buf[:4]
                continue
            end = buf.find(CR)
            restart = buf.find(STX, 1, end if end >= 0 else len(buf))
            if restart > 0:  # a new frame began before this one ended: it was cut short
                self._error(restart, "truncated frame")
                continue
            if end < 0:
                if len(buf) > MAX_FRAME:
                    self._error(len(buf), "frame too long")
                return
            body = bytes(buf[1:end])
            m = _WEIGHT.match(body)
            value = parse_decimal(m.group(1).decode("ascii")) if m else None
            if m is None or value is None:
                self._error(end + 1, "not a weight frame")
                continue
            raw = bytes(buf[: end + 1])
            del buf[: end + 1]
            self._emit(Weight(value, self.unit, True, bool(m.group(2)), raw))
