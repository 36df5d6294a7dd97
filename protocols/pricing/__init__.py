"""One pricing engine for the lane and the hub (docs/pricing.md).

`arithmetic`: a line's amount (qty_milli × unit price, half up to the fen), used everywhere.
`rules`: the typed promotion rules, one msgspec Struct per kind, and their validation.
`engine`: `price(...)` — a basket, the member, the promotions, the coupons and the store's
policy in; every line's discount, the receipt's savings and the total out. Pure: no I/O, no
clock (the time is an argument)."""

from __future__ import annotations

from protocols.pricing.arithmetic import extend, line_total, weighed
from protocols.pricing.engine import (
    Handout,
    Item,
    Member,
    Policy,
    Priced,
    PricedLine,
    Saving,
    price,
)
from protocols.pricing.rules import (
    KINDS,
    Promotion,
    RuleError,
    check_rule,
    promotion,
    promotions_from_snapshot,
)
from protocols.pricing.sale import sale_fields

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
