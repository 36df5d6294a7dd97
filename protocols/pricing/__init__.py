"""One pricing engine for the lane and the hub (docs/pricing.md).

`arithmetic`: a line's amount (qty_milli × unit price, half up to the fen), used everywhere.
`rules`: the typed promotion rules, one msgspec Struct per kind, and their validation.
`engine`: `price(...)` — a basket, the member, the promotions, the coupons and the store's
policy in; every line's discount, the receipt's savings and the total out; with `basket` (a
line, its floor, the discounts' arithmetic), `offers` (what an item promotion would save) and
`search` (the exclusive groups' combinations). Pure: no I/O, no clock (the time is an
argument)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from protocols.pricing.arithmetic import extend, line_total, weighed
from protocols.pricing.rules import (
    KINDS,
    Promotion,
    RuleError,
    check_rule,
    promotion,
    promotions_from_snapshot,
)

if TYPE_CHECKING:
    from protocols.pricing.basket import Item
    from protocols.pricing.engine import (
        Handout,
        Member,
        Policy,
        Priced,
        PricedLine,
        Saving,
        price,
    )
    from protocols.pricing.sale import sale_fields

# The engine's names load at their first use: every sale's line arithmetic and the rules (in
# the contract's events and snapshots) need none of it, and a store gateway runs the engine
# only with a lane's first basket (docs/performance.md "Gateway memory")
_LATER = {
    **dict.fromkeys(
        ("Handout", "Member", "Policy", "Priced", "PricedLine", "Saving", "price"),
        "protocols.pricing.engine",
    ),
    "Item": "protocols.pricing.basket",
    "sale_fields": "protocols.pricing.sale",
}


def __getattr__(name: str) -> Any:
    if name in _LATER:
        return getattr(import_module(_LATER[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KINDS",
    "Handout",
    "Item",
    "Member",
    "Policy",
    "Priced",
    "PricedLine",
    "Promotion",
    "RuleError",
    "Saving",
    "check_rule",
    "extend",
    "line_total",
    "price",
    "promotion",
    "promotions_from_snapshot",
    "sale_fields",
    "weighed",
]
