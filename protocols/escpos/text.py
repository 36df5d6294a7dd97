"""Columns on a receipt: a CJK character takes two columns, as on every Chinese thermal
printer, so layout counts display width, not len(). Text leaves as bytes: ASCII as is, every
run of other characters as GB18030 inside FS & … FS . (Hanzi mode on, off)."""

from __future__ import annotations

import unicodedata

FS_HANZI_ON = b"\x1c\x26"  # FS &
FS_HANZI_OFF = b"\x1c\x2e"  # FS .


def char_width(ch: str) -> int:
    """Columns one character takes in font A: 2 for wide/fullwidth (CJK), 0 for combining."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


def clip(text: str, columns: int) -> str:
    """The longest prefix that fits in `columns` (never splits a wide character)."""
    used, out = 0, []
    for ch in text:
        w = char_width(ch)
        if used + w > columns:
            break
        used += w
        out.append(ch)
    return "".join(out)


def wrap(text: str, columns: int) -> list[str]:
    """Break text into lines of at most `columns` display columns (character-wise: Chinese
    has no spaces to break at, and product names are short)."""
    lines: list[str] = []
    rest = text
    while rest:
        part = clip(rest, columns)
        if not part:  # a wide character in a 1-column field: nothing fits, drop it
            rest = rest[1:]
            continue
        lines.append(part)
        rest = rest[len(part) :]
    return lines or [""]


def ljust(text: str, columns: int) -> str:
    text = clip(text, columns)
    return text + " " * (columns - width(text))


def rjust(text: str, columns: int) -> str:
    text = clip(text, columns)
    return " " * (columns - width(text)) + text


def center(text: str, columns: int) -> str:
    text = clip(text, columns)
    pad = columns - width(text)
    return " " * (pad // 2) + text + " " * (pad - pad // 2)


def two_sides(left: str, right: str, columns: int) -> list[str]:
    """`left … right` on one line when both fit with a space between, else left wrapped and
    right on its own line, right-aligned."""
    if width(left) + 1 + width(right) <= columns:
        return [left + " " * (columns - width(left) - width(right)) + right]
    return [*wrap(left, columns), rjust(right, columns)]


def encode(text: str, hanzi: str = "gb18030") -> bytes:
    """ASCII as is; each run of non-ASCII characters as GB18030 between FS & and FS ."""
    out = bytearray()
    run: list[str] = []

    def flush() -> None:
        if run:
            out.extend(FS_HANZI_ON + "".join(run).encode(hanzi, "replace") + FS_HANZI_OFF)
            run.clear()

    for ch in text:
        if ord(ch) < 0x80:
            flush()
            out.append(ord(ch))
        else:
            run.append(ch)
    flush()
    return bytes(out)
