"""BMP fields: a one-byte tag, then a value whose length the tag fixes (or an LL / LLL prefix
of F-nibbles: F1 F2 = 12 bytes), and BMP 06, a BER-TLV container.

Only known tags can be skipped: an unknown tag stops decoding with ZvtError, because its length
cannot be known."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.zvt.apdu import ZvtError

FIXED, LLVAR, LLLVAR, TLV = "fixed", "ll", "lll", "tlv"

# tag: (length kind, fixed length, meaning)
BMPS: dict[int, tuple[str, int, str]] = {
    0x01: (FIXED, 1, "timeout"),
    0x02: (FIXED, 1, "max status infos"),
    0x03: (FIXED, 1, "service byte"),
    0x04: (FIXED, 6, "amount"),
    0x05: (FIXED, 1, "pump number"),
    0x06: (TLV, 0, "TLV container"),
    0x0B: (FIXED, 3, "trace number"),
    0x0C: (FIXED, 3, "time"),
    0x0D: (FIXED, 2, "date"),
    0x0E: (FIXED, 2, "expiry date"),
    0x17: (FIXED, 2, "card sequence number"),
    0x19: (FIXED, 1, "payment type"),
    0x22: (LLVAR, 0, "PAN"),
    0x23: (LLVAR, 0, "track 2"),
    0x24: (LLLVAR, 0, "track 3"),
    0x27: (FIXED, 1, "result code"),
    0x29: (FIXED, 4, "terminal id"),
    0x2A: (FIXED, 15, "VU number"),
    0x2D: (LLVAR, 0, "track 1"),
    0x37: (FIXED, 3, "original trace number"),
    0x3A: (FIXED, 2, "CVV"),
    0x3B: (FIXED, 8, "AID"),
    0x3C: (LLLVAR, 0, "additional text"),
    0x3D: (FIXED, 3, "password"),
    0x49: (FIXED, 2, "currency code"),
    0x60: (LLLVAR, 0, "individual totals"),
    0x87: (FIXED, 2, "receipt number"),
    0x88: (FIXED, 3, "turnover number"),
    0x8A: (FIXED, 1, "card type"),
    0x8B: (LLVAR, 0, "card name"),
    0x8C: (FIXED, 1, "card type id"),
    0x9A: (LLLVAR, 0, "geldkarte payment record"),
    0xA0: (FIXED, 1, "result code AS"),
    0xA7: (LLVAR, 0, "chip data"),
    0xAF: (LLLVAR, 0, "EF_ID"),
    0xBA: (FIXED, 5, "AID parameter"),
    0xD0: (FIXED, 1, "algorithm key"),
    0xD1: (LLVAR, 0, "card offset / PIN data"),
    0xD2: (FIXED, 1, "direction"),
    0xD3: (FIXED, 1, "key position"),
    0xE0: (FIXED, 1, "min length of input"),
    0xE1: (LLVAR, 0, "text 1"),
    0xE2: (LLVAR, 0, "text 2"),
    0xE3: (LLVAR, 0, "text 3"),
    0xE4: (LLVAR, 0, "text 4"),
    0xF0: (FIXED, 1, "display duration"),
}


@dataclass(frozen=True)
class Bmp:
    tag: int
    value: bytes


def _var_len(n: int, digits: int) -> bytes:
    if n >= 10**digits:
        raise ZvtError(f"{n} bytes do not fit a {digits}-digit length")
    return bytes(0xF0 | int(d) for d in str(n).zfill(digits))


def _ber_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n <= 0xFF:
        return bytes((0x81, n))
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    raise ZvtError("TLV container too long")


def encode(fields: list[Bmp]) -> bytes:
    out = bytearray()
    for f in fields:
        if f.tag not in BMPS:
            raise ZvtError(f"unknown BMP {f.tag:02X}")
        kind, size, name = BMPS[f.tag]
        out.append(f.tag)
        if kind == FIXED:
            if len(f.value) != size:
                raise ZvtError(f"BMP {f.tag:02X} ({name}) takes {size} bytes, not {len(f.value)}")
        elif kind == LLVAR:
            out += _var_len(len(f.value), 2)
        elif kind == LLLVAR:
            out += _var_len(len(f.value), 3)
        else:
            out += _ber_len(len(f.value))
        out += f.value
    return bytes(out)


def _read_var(data: bytes, i: int, digits: int) -> tuple[int, int]:
    if i + digits > len(data):
        raise ZvtError("BMP length runs past the end")
    n = 0
    for b in data[i : i + digits]:
        if b & 0xF0 != 0xF0 or b & 0x0F > 9:
            raise ZvtError(f"bad variable-length byte {b:02X}")
        n = n * 10 + (b & 0x0F)
    return n, i + digits


def _read_ber(data: bytes, i: int) -> tuple[int, int]:
    if i >= len(data):
        raise ZvtError("TLV length missing")
    first = data[i]
    if first < 0x80:
        return first, i + 1
    count = first & 0x7F
    if count not in (1, 2) or i + 1 + count > len(data):
        raise ZvtError(f"bad TLV length {first:02X}")
    return int.from_bytes(data[i + 1 : i + 1 + count], "big"), i + 1 + count


def decode(data: bytes) -> list[Bmp]:
    fields: list[Bmp] = []
    i = 0
    while i < len(data):
        tag = data[i]
        if tag not in BMPS:
            raise ZvtError(f"unknown BMP {tag:02X} at byte {i}")
        kind, size, name = BMPS[tag]
        i += 1
        if kind == FIXED:
            n = size
        elif kind == LLVAR:
            n, i = _read_var(data, i, 2)
        elif kind == LLLVAR:
            n, i = _read_var(data, i, 3)
        else:
            n, i = _read_ber(data, i)
        if i + n > len(data):
            raise ZvtError(f"BMP {tag:02X} ({name}) runs past the end")
        fields.append(Bmp(tag, bytes(data[i : i + n])))
        i += n
    return fields


def tlv_decode(data: bytes) -> list[tuple[int, bytes]]:
    """BER-TLV items of a BMP 06 container (tags of one or more bytes; values left raw)."""
    items: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:  # multi-byte tag
            while True:
                if i >= len(data):
                    raise ZvtError("TLV tag runs past the end")
                tag = (tag << 8) | data[i]
                i += 1
                if not data[i - 1] & 0x80:
                    break
        n, i = _read_ber(data, i)
        if i + n > len(data):
            raise ZvtError("TLV value runs past the end")
        items.append((tag, bytes(data[i : i + n])))
        i += n
    return items


def tlv_encode(items: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for tag, value in items:
        out += tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big") + _ber_len(len(value))
        out += value
    return bytes(out)
