"""MT-SICS (Mettler Toledo Standard Interface Command Set), level 0/1: 8N1, lines end CR LF.

`S` weight (stable only), `SI` weight now (stable `S S` or dynamic `S D`), `Z` zero, `T` tare,
`TA` tare weight (query or preset), `TAC` clear tare, `I4` serial number, `@` reset.
Errors: `S I` busy, `S +` overload, `S -` underload, `ES` syntax, `ET` transmission, `EL` logic."""

from __future__ import annotations

from decimal import Decimal

from protocols.scales import (
    MAX_FRAME,
    Acknowledged,
    FrameError,
    FrameParser,
    Identity,
    Rejected,
    ScaleEvent,
    Status,
    Weight,
    parse_decimal,
)

CRLF = b"\r\n"


def command(text: str) -> bytes:
    return text.encode("ascii") + CRLF


def request_stable_weight() -> bytes:
    return command("S")


def request_weight() -> bytes:
    """`SI`: the weight now, stable or not; the stability rule is the driver's."""
    return command("SI")


def zero() -> bytes:
    return command("Z")


def tare() -> bytes:
    return command("T")


def query_tare() -> bytes:
    return command("TA")


def preset_tare(value: Decimal, unit: str = "kg") -> bytes:
    return command(f"TA {value} {unit}")


def clear_tare() -> bytes:
    return command("TAC")


def serial_number() -> bytes:
    return command("I4")


def reset() -> bytes:
    return command("@")


def weight_line(ident: str, status: str, value: Decimal | str, unit: str = "kg") -> bytes:
    """`S S      1.234 kg`: a 10-character right-aligned value field, then the unit."""
    return f"{ident} {status} {value!s:>10} {unit}".encode("ascii") + CRLF


_ERRORS = {"ES": "syntax error", "ET": "transmission error", "EL": "logic error"}
_REFUSALS = {
    "I": "not executable now (busy or in motion)",
    "+": "upper limit exceeded",
    "-": "lower limit exceeded",
    "L": "logic error (parameter not allowed)",
}


class SicsParser(FrameParser):
    def _parse(self) -> None:
        buf = self._buf
        while True:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > MAX_FRAME:
                    self._error(len(buf), "line too long")
                return
            raw = bytes(buf[: end + 1])
            del buf[: end + 1]
            line = raw.rstrip(b"\r\n")
            event = self._line(line, raw) if line.isascii() else None
            if event is None:
                self._emit(FrameError(raw, "not an MT-SICS reply" if line else "empty line"))
            else:
                self._emit(event)

    def _line(self, line: bytes, raw: bytes) -> ScaleEvent | None:
        text = line.decode("ascii")
        if text in _ERRORS:
            return Rejected("?", _ERRORS[text])
        parts = text.split()
        if len(parts) < 2:
            return None
        ident, status, rest = parts[0], parts[1], parts[2:]
        if ident == "S":
            if status in ("S", "D"):
                return _weight(rest, raw, stable=status == "S")
            if not rest:
                return {
                    "I": Status(busy=True),
                    "+": Status(over_capacity=True),
                    "-": Status(under_zero=True),
                }.get(status)
            return None
        if ident in ("Z", "TAC") and not rest:
            if status == "A":
                return Acknowledged(ident)
            return Rejected(ident, _REFUSALS[status]) if status in _REFUSALS else None
        if ident in ("T", "TA"):
            if status == ("S" if ident == "T" else "A"):
                weight = _weight(rest, raw, stable=True)
                return Acknowledged(ident, weight) if weight else None
            if status in _REFUSALS and not rest:
                return Rejected(ident, _REFUSALS[status])
            return None
        if ident == "I4":
            if status == "A" and rest:
                value = text.split(None, 2)[2]
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    return Identity(value[1:-1])
                return None
            return Rejected(ident, _REFUSALS[status]) if status in _REFUSALS else None
        return None


def _weight(rest: list[str], raw: bytes, stable: bool) -> Weight | None:
    if len(rest) == 3 and rest[0] in "+-":  # a sign separated from the digits
        rest = [rest[0] + rest[1], rest[2]]
    if len(rest) != 2 or not rest[1].isalpha():
        return None
    value = parse_decimal(rest[0])
    if value is None:
        return None
    return Weight(value, rest[1], stable, False, raw)
