"""EAN/UPC/GTIN check digits: the GS1 mod-10 rule (weights 3,1,3… from the right of the payload;
check = (10 − sum mod 10) mod 10), the same for EAN-8, UPC-A, EAN-13, GTIN-14 and the 18-digit
label-scale codes."""

from __future__ import annotations

FORMATS = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}


def check_digit(payload: str) -> int:
    if not payload.isdigit() or not payload.isascii():
        raise ValueError(f"payload must be digits: {payload!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def is_valid(code: str) -> bool:
    """True when the last digit is the check digit of the rest."""
    return (
        len(code) >= 2
        and code.isdigit()
        and code.isascii()
        and int(code[-1]) == check_digit(code[:-1])
    )


def with_check_digit(payload: str) -> str:
    return payload + str(check_digit(payload))


def format_of(code: str) -> str | None:
    """`EAN-13` etc. for a valid GTIN of a known length, else None."""
    return FORMATS.get(len(code)) if is_valid(code) else None


def gtin14(code: str) -> str:
    """Any EAN/UPC as the 14-digit GTIN the catalog keys on."""
    if format_of(code) is None:
        raise ValueError(f"not a valid EAN/UPC/GTIN: {code!r}")
    return code.zfill(14)
