"""Cash: tender, change and rounding (抹零).

Rounding applies to the cash part only and is the store's choice (`cash_rounding` in
`<data dir>/payments.toml`):
- `none` (default): exact to the fen;
- `jiao_down` (抹分): the fen are dropped, in the customer's favour — 12.37 → 12.30;
- `yuan_down` (抹角分): to the whole yuan, in the customer's favour — 12.99 → 12.00.
The difference is returned as `rounding_fen` (never negative: rounding never charges the customer
more, which is why there is no half-up rule) for the lane to book as a discount (code
`ROUNDING`), so the sale still adds up to the fen."""

from __future__ import annotations

from dataclasses import dataclass

RULES = ("none", "jiao_down", "yuan_down")


class CashError(ValueError):
    pass


def round_due(due_fen: int, rule: str) -> int:
    if rule not in RULES:
        raise CashError(f"unknown cash rounding {rule!r} (known: {', '.join(RULES)})")
    if due_fen < 0:
        raise CashError("amount due must not be negative")
    if rule == "jiao_down":
        return due_fen - due_fen % 10
    if rule == "yuan_down":
        return due_fen - due_fen % 100
    return due_fen


@dataclass(frozen=True)
class CashTender:
    due_fen: int  # what the cash has to cover before rounding
    rounded_due_fen: int
    tendered_fen: int  # what the customer handed over
    taken_fen: int  # what goes into the drawer as this sale's takings
    change_fen: int
    rounding_fen: int  # due - rounded due: book it as a discount
    remaining_fen: int  # still to pay by another tender (cash short of the amount due)


def tender(due_fen: int, tendered_fen: int, rule: str = "none") -> CashTender:
    """Cash handed over against an amount due. Less than due is a partial cash payment
    (no rounding then: the rest is paid otherwise, to the fen)."""
    for what, v in (("due_fen", due_fen), ("tendered_fen", tendered_fen)):
        if type(v) is not int or v < 0:
            raise CashError(f"{what} must be non-negative integer fen")
    if due_fen == 0:
        raise CashError("nothing is due")
    rounded = round_due(due_fen, rule)
    if tendered_fen >= rounded:
        return CashTender(due_fen, rounded, tendered_fen, rounded, tendered_fen - rounded,
                          due_fen - rounded, 0)  # fmt: skip
    return CashTender(due_fen, due_fen, tendered_fen, tendered_fen, 0, 0, due_fen - tendered_fen)
