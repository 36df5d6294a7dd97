"""Pricing arithmetic shared by the lane and the hub, so both compute the same fen.

Quantities are milli-units: 1 piece = 1000, 1 kg = 1000 (so grams). A line's amount is
qty_milli × unit_price / 1000 rounded half up to the fen (四舍五入), the rule Chinese
price-computing scales print; discounts are subtracted after rounding."""

from __future__ import annotations


def extend(qty_milli: int, unit_price_fen: int) -> int:
    """Amount in fen for qty_milli units at unit_price_fen per unit, rounded half up."""
    if qty_milli < 0 or unit_price_fen < 0:
        raise ValueError("quantity and unit price must not be negative")
    return (qty_milli * unit_price_fen + 500) // 1000


def weighed(weight_g: int, price_per_kg_fen: int) -> int:
    """A weighed item: grams × price per kg, rounded half up to the fen."""
    return extend(weight_g, price_per_kg_fen)


def line_total(qty_milli: int, unit_price_fen: int, discount_fen: int = 0) -> int:
    gross = extend(qty_milli, unit_price_fen)
    if not 0 <= discount_fen <= gross:
        raise ValueError(f"line discount {discount_fen} outside 0..{gross}")
    return gross - discount_fen
