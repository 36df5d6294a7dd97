"""What every field of the contract may hold: the limits of the columns it lands in, on SQLite
and PostgreSQL alike. The hub's models take their widths from here, so an event the contract
accepts always fits, and one that would not fit is refused where it enters (lane 400, hub
rejection) instead of failing a database write.

Money is bounded far below int64 so that sums of it (a sale's lines, a day's takings, a
member's tier window) stay far from overflow too: 10^12 fen is ¥10 billion per amount."""

from __future__ import annotations

import re
from typing import Any

MAX_FEN = 10**12
MAX_QTY_MILLI = 10_000_000  # 10,000 pieces or 10 t of weighed goods on one line
MAX_COUNT = 2**31 - 1  # INTEGER columns (counts, gateway seq)
MAX_SEQ = MAX_COUNT
MAX_POINTS = 10**15

TEXT_LEN = 200  # names, skus, lanes, cashiers, receipt numbers, payment refs, shift ids
REASON_LEN = 500  # a refund's reason
ID_LEN = 64  # store and gateway ids, event types
UUID_LEN = 36  # sale, refund, member and reservation ids
MEMBER_NAME_LEN = 100
COUPON_LEN = 32  # a code as typed (with dashes) normalises to 16 characters

MAX_LINES = 500
MAX_PAYMENTS = 20
MAX_DISCOUNTS = 100
MAX_COUPONS = 20
MAX_TENDERS = 20

# Decoded MQTT and lane payloads: no event is deeper than ~5 levels; anything much deeper is
# hostile and would exhaust the decoder's recursion.
MAX_DEPTH = 32

# C0 and C1 control characters, DEL and lone surrogates: PostgreSQL cannot store NUL, the others
# corrupt receipts, logs and CSV exports. (Text in events is single-line.)
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


# In JSON such a character can only arrive escaped (\u0000, \n …) or as raw DEL / C1 bytes; a
# lone surrogate is already refused by the decoder. Bytes without any of these need no
# character-by-character look (a literal backslash before n or u00 is a harmless false alarm).
_SUSPECT = re.compile(rb"\\[bfnrt]|\\u00[0189]|\\u007f|\x7f|\xc2[\x80-\x9f]", re.IGNORECASE)


def suspect(payload: bytes | memoryview) -> bool:
    """Could this JSON hold a control character in some string? Mostly answered by three
    memchr-speed looks; the regex runs only on bytes that have an escape, DEL or a C1 lead."""
    data = bytes(payload)
    if b"\\" not in data and b"\x7f" not in data and b"\xc2" not in data:
        return False
    return _SUSPECT.search(data) is not None


def control_character(doc: Any, path: str = "$") -> str | None:
    """Where decoded JSON data holds a control character, said for a person, or None."""
    if isinstance(doc, str):
        m = _FORBIDDEN.search(doc)
        if m:
            return f"control character U+{ord(m.group()):04X} is not allowed in text - at `{path}`"
    elif isinstance(doc, dict):
        for k, v in doc.items():
            if why := control_character(v, f"{path}.{k}"):
                return why
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            if why := control_character(v, f"{path}[{i}]"):
                return why
    return None


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def depth(payload: bytes) -> int:
    """How deeply a JSON payload nests (strings skipped), without decoding it. A linear scan:
    a hostile payload is measured before any recursive decoder touches it."""
    deepest = level = 0
    for m in _BRACKET.finditer(_STRING.sub(b"", payload)):
        if m.group() in (b"[", b"{"):
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def printable(data: bytes | str, limit: int) -> str:
    """Any bytes or text as text every database stores: invalid UTF-8 as \\xNN, control
    characters and lone surrogates as \\uXXXX, cut to `limit` characters with a note of how
    much was cut. For dead letters and conflicts, which must be kept whatever arrived."""
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
    if len(text) > limit * 4:
        text = text[: limit * 4]  # escaping at most sextuples a character; cut what can't show
    text = _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    full = len(data.decode("utf-8", "replace")) if isinstance(data, bytes) else len(data)
    if len(text) > limit or full > limit:
        note = f"…[{full} characters in all]"
        text = text[: max(limit - len(note), 0)] + note
    return text
