"""ZVT APDUs: CLASS, INSTR, length, data. Length is one byte; 0xFF means two more bytes follow,
little-endian (extended length). Over TCP (port 20007) APDUs follow each other raw."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.stream import EventParser


class ZvtError(ValueError):
    """Bytes that are not valid ZVT."""


@dataclass(frozen=True)
class Apdu:
    cls: int
    ins: int
    data: bytes = b""

    @property
    def command(self) -> tuple[int, int]:
        return (self.cls, self.ins)

    def encode(self) -> bytes:
        n = len(self.data)
        if n > 0xFFFF:
            raise ZvtError(f"APDU data of {n} bytes is too long")
        length = bytes((n,)) if n < 0xFF else b"\xff" + n.to_bytes(2, "little")
        return bytes((self.cls, self.ins)) + length + self.data

    def __repr__(self) -> str:
        return f"Apdu({self.cls:02X} {self.ins:02X}, {self.data.hex(' ')})"


def parse_one(buf: bytes | bytearray) -> tuple[Apdu, int] | None:
    """The first complete APDU in buf and the bytes it took, or None when more must come."""
    if len(buf) < 3:
        return None
    n, head = buf[2], 3
    if n == 0xFF:
        if len(buf) < 5:
            return None
        n, head = int.from_bytes(buf[3:5], "little"), 5
    if len(buf) < head + n:
        return None
    return Apdu(buf[0], buf[1], bytes(buf[head : head + n])), head + n


class ApduReader(EventParser[Apdu]):
    """Sans-I/O (protocols/stream.py): `receive_data(chunk)`, then `next_event()` until None."""

    def _parse(self) -> None:
        while (got := parse_one(self._buf)) is not None:
            apdu, used = got
            del self._buf[:used]
            self._emit(apdu)


def bcd(value: int | str, size: int) -> bytes:
    """Packed BCD, right-aligned, zero-padded to `size` bytes."""
    digits = str(value)
    if not digits.isdigit() or len(digits) > size * 2:
        raise ZvtError(f"{value!r} does not fit {size} BCD bytes")
    return bytes.fromhex(digits.zfill(size * 2))


def from_bcd(data: bytes) -> str:
    """Digits of packed BCD; a trailing F nibble (padding, as in PANs) is dropped."""
    text = data.hex().upper()
    body = text.rstrip("F")
    if not body.replace("E", "").isdigit() and body:
        raise ZvtError(f"not BCD: {data.hex()}")
    return body


def bcd_int(data: bytes) -> int:
    digits = from_bcd(data)
    if not digits.isdigit():
        raise ZvtError(f"not a BCD number: {data.hex()}")
    return int(digits)
