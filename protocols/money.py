"""Money is integer fen (分) inside; decimal yuan strings only at the API edge. Never float."""

from __future__ import annotations

import re

_YUAN = re.compile(r"^(-?)(\d{1,12})(?:\.(\d{1,2}))?$")


class MoneyError(ValueError):
    pass


def check_fen(value: object, what: str = "amount") -> int:
    """Accept only a real int (not bool, not float, not a numeric string)."""
    if type(value) is not int:
        raise MoneyError(f"{what} must be integer fen, got {type(value).__name__} {value!r}")
    return value


def yuan_to_fen(text: str) -> int:
    """'12.5' -> 1250; rejects floats' tricks ('1e3', '0.001', ' 1')."""
    m = _YUAN.match(text)
    if not m:
        raise MoneyError(f"not a yuan amount with at most two decimals: {text!r}")
    sign, whole, frac = m.groups()
    fen = int(whole) * 100 + int((frac or "0").ljust(2, "0"))
    return -fen if sign else fen


def fen_to_yuan(fen: int) -> str:
    check_fen(fen)
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
