"""Coupons as the lane and the hub both see them: the code (unguessable, with a check character
a lane verifies offline before asking the hub) and the terms and stacking rules the lane's
pricing and the hub's coupon check apply alike, so both compute the same fen.

Stacking rules (in this order):
1. Promotions come first: a line's `discount_fen` is what promotions already took off.
2. A coupon that is not `stackable` stands alone: with any other coupon it is refused.
   Stackable coupons combine; each code counts once.
3. Coupons apply in kind order gift → percent_off → amount_off / threshold, so a percentage is
   never taken off a fixed amount that was subtracted first.
4. A threshold (满减) is judged on the coupon's in-scope spend after promotions and before any
   coupon; the discount itself never exceeds what is left of the in-scope lines.
5. A coupon with `on_promoted_lines=False` ignores lines a promotion already discounted.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Annotated, Literal, Protocol

import msgspec
from msgspec import Meta

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_SAME = {"O": "0", "I": "1", "L": "1"}  # what people type for what they see
BODY_LEN = 15  # 75 random bits
CODE_LEN = BODY_LEN + 1


class CodeError(ValueError):
    pass


def check_char(body: str) -> str:
    """Luhn mod 32 over the alphabet: catches every single wrong symbol and most swaps."""
    factor, total = 2, 0
    for ch in reversed(body):
        addend = factor * _INDEX[ch]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    return body + check_char(body)


def normalize(text: str) -> str:
    """A code as typed or scanned (any case, dashes, spaces, O for 0) → canonical form, or
    CodeError saying what is wrong with it."""
    raw = "".join(ch for ch in text.upper() if ch not in " -")
    code = "".join(_SAME.get(ch, ch) for ch in raw)
    if len(code) != CODE_LEN:
        raise CodeError(f"a coupon code has {CODE_LEN} characters, got {len(code)}")
    bad = sorted({ch for ch in code if ch not in _INDEX})
    if bad:
        raise CodeError(f"not coupon code characters: {''.join(bad)!r}")
    if check_char(code[:-1]) != code[-1]:
        raise CodeError("check character does not match: mistyped code")
    return code


def pretty(code: str) -> str:
    """XXXX-XXXX-XXXX-XXXX for print and screens."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


# --- terms and stacking ------------------------------------------------------------------------
Fen = Annotated[int, Meta(ge=0)]
Kind = Literal["amount_off", "percent_off", "threshold", "gift"]
_ORDER = {"gift": 0, "percent_off": 1, "amount_off": 2, "threshold": 2}


class Terms(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a coupon gives and where it applies (empty scope lists mean 'any')."""

    code: str
    kind: Kind
    amount_fen: Fen = 0  # amount_off / threshold: fen off
    percent_off: Annotated[int, Meta(ge=0, le=100)] = 0
    cap_fen: Fen | None = None  # percent_off: at most this much off
    threshold_fen: Fen = 0  # minimum in-scope spend
    gift_sku: str | None = None  # gift: one unit of this line free
    stores: list[str] = []
    categories: list[str] = []
    skus: list[str] = []
    stackable: bool = False
    on_promoted_lines: bool = True


class BasketLine(msgspec.Struct, frozen=True, kw_only=True):  # unknown keys are ignored
    sku: str
    category: str | None = None
    qty_milli: Annotated[int, Meta(gt=0)] = 1000
    unit_price_fen: Fen = 0
    discount_fen: Fen = 0  # taken off by promotions already
    total_fen: Fen


class Applied(msgspec.Struct, kw_only=True):
    code: str
    discount_fen: int


class Refused(msgspec.Struct, kw_only=True):
    code: str
    reason: str


class Stack(msgspec.Struct, kw_only=True):
    applied: list[Applied] = []
    refused: list[Refused] = []

    @property
    def total_off(self) -> int:
        return sum(a.discount_fen for a in self.applied)


class Line(Protocol):
    """What `stack` reads of a line: a BasketLine, or the pricing engine's own lines."""

    @property
    def sku(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def unit_price_fen(self) -> int: ...
    @property
    def discount_fen(self) -> int: ...
    @property
    def total_fen(self) -> int: ...


def in_scope(t: Terms, line: Line) -> bool:
    if t.skus and line.sku not in t.skus:
        return False
    if t.categories and line.category not in t.categories:
        return False
    return t.on_promoted_lines or line.discount_fen == 0


def stack(lines: Sequence[Line], coupons: list[Terms], store: str | None = None) -> Stack:
    """Which of `coupons` apply to the basket and for how many fen each (rules above)."""
    out = Stack()
    seen: set[str] = set()
    usable: list[Terms] = []
    for t in coupons:
        if t.code in seen:
            out.refused.append(Refused(code=t.code, reason="the same coupon twice"))
            continue
        seen.add(t.code)
        if t.stores and store is not None and store not in t.stores:
            out.refused.append(Refused(code=t.code, reason="not valid in this store"))
            continue
        usable.append(t)
    if len(usable) > 1:
        alone = [t for t in usable if not t.stackable]
        for t in alone:
            out.refused.append(Refused(code=t.code, reason="does not combine with other coupons"))
        usable = [t for t in usable if t.stackable]
    left = [line.total_fen for line in lines]  # what each line still costs
    for t in sorted(usable, key=lambda t: (_ORDER[t.kind], t.code)):
        idx = [i for i, line in enumerate(lines) if in_scope(t, line)]
        base = sum(lines[i].total_fen for i in idx)
        if not idx or base == 0:
            out.refused.append(Refused(code=t.code, reason="no goods in the basket it applies to"))
            continue
        if base < t.threshold_fen:
            out.refused.append(
                Refused(code=t.code, reason=f"needs {t.threshold_fen} fen of eligible goods")
            )
            continue
        remaining = sum(left[i] for i in idx)
        if t.kind == "gift":
            gift = [i for i in idx if lines[i].sku == t.gift_sku]
            if not gift:
                out.refused.append(
                    Refused(code=t.code, reason="the gift item is not in the basket")
                )
                continue
            g = lines[gift[0]]
            unit = min(g.unit_price_fen, g.total_fen)
            off = min(unit, left[gift[0]])
            left[gift[0]] -= off
        else:
            if t.kind == "percent_off":
                off = (remaining * t.percent_off + 50) // 100  # half up, to the fen
                if t.cap_fen is not None:
                    off = min(off, t.cap_fen)
            else:
                off = t.amount_fen
            off = min(off, remaining)
            _spread(left, idx, off)
        if off <= 0:
            out.refused.append(Refused(code=t.code, reason="nothing left to take off"))
            continue
        out.applied.append(Applied(code=t.code, discount_fen=off))
    return out


def _spread(left: list[int], idx: list[int], off: int) -> None:
    """Take `off` fen from the lines in `idx`, proportionally, the rounding rest from the
    largest line, so no line goes below zero."""
    total = sum(left[i] for i in idx)
    if total == 0 or off == 0:
        return
    taken = 0
    for i in idx:
        share = off * left[i] // total
        left[i] -= share
        taken += share
    if taken == off:
        return
    top = max(idx, key=lambda i: left[i])  # the first of the largest, as the sort below
    if left[top] >= off - taken:  # the usual case: the rest fits on the largest line
        left[top] -= off - taken
        return
    for i in sorted(idx, key=lambda i: -left[i]):
        if taken == off:
            break
        step = min(off - taken, left[i])
        left[i] -= step
        taken += step
