"""What identifies a person, normalised before it is indexed or sealed: phone numbers (China
mobile numbers as +86…, others in E.164), resident ID numbers (18 characters with their
ISO 7064 MOD 11-2 check) and member card numbers (digits with a Luhn check)."""

from __future__ import annotations

import re
import secrets

_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ID18 = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class IdentityError(ValueError):
    pass


def phone(text: str) -> str:
    """'138 0013 8000', '+86-13800138000', '0086 13800138000' → '+8613800138000'."""
    raw = re.sub(r"[\s\-()]", "", text)
    if raw.startswith("0086"):
        raw = "+86" + raw[4:]
    if _CN_MOBILE.match(raw):
        return "+86" + raw
    if raw.startswith("+86") and not _CN_MOBILE.match(raw[3:]):
        raise IdentityError(f"not a China mobile number: {text!r}")
    if _E164.match(raw):
        return raw
    raise IdentityError(f"not a phone number: {text!r} (11-digit mobile or +country…)")


def mask_phone(normalized: str) -> str:
    local = normalized[3:] if normalized.startswith("+86") else normalized
    return local[:3] + "****" + local[-4:] if len(local) >= 8 else "****" + local[-2:]


def id_number(text: str) -> str:
    """An 18-character resident ID number, upper case, its check character verified."""
    raw = text.strip().upper()
    if not _ID18.match(raw):
        raise IdentityError("an ID number has 17 digits and a check digit or X")
    total = sum(int(d) * w for d, w in zip(raw[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != raw[17]:
        raise IdentityError("ID number check digit does not match")
    return raw


def mask_id(normalized: str) -> str:
    return normalized[:3] + "*" * 11 + normalized[-4:]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def new_card_no() -> str:
    """16 digits: '88' (the chain's prefix), 13 random digits, a Luhn check digit."""
    body = "88" + "".join(secrets.choice("0123456789") for _ in range(13))
    return body + _luhn_digit(body)


def card_no(text: str) -> str:
    raw = re.sub(r"[\s\-]", "", text)
    if not raw.isdigit() or len(raw) != 16 or _luhn_digit(raw[:-1]) != raw[-1]:
        raise IdentityError(f"not a member card number: {text!r}")
    return raw
