"""The part of a `sale.completed` body the pricing engine decides, written one way for every
lane: the lines with their discounts and totals, the total, and `pricing` — what the hub
needs to recompute the sale with the same engine and inputs (protocols/events.py PricedWith)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from protocols.pricing.engine import Item, Member, Policy, Priced


def sale_fields(
    items: Sequence[Item],
    priced: Priced,
    *,
    names: Sequence[str],
    at: datetime,
    promotions_version: int | None,
    member: Member | None = None,
    policy: Policy = Policy(),  # noqa: B008 - frozen
    override: bool = False,
) -> dict[str, Any]:
    """`lines`, `discounts` (none: every discount sits on its lines), `total_fen` and
    `pricing` for the sale's body; `names` are the lines' display names."""
    lines = [
        {
            "sku": it.sku,
            "name": name,
            "qty_milli": it.qty_milli,
            "unit_price_fen": it.unit_price_fen,
            "discount_fen": p.discount_fen,
            "total_fen": p.total_fen,
            "weighed": it.weighed,
            "category": it.category,
            "cost_fen": it.cost_fen,
        }
        for it, p, name in zip(items, priced.lines, names, strict=True)
    ]
    how: dict[str, Any] = {
        "promotions_version": promotions_version,
        "at": at.isoformat(),
        "min_margin_bp": policy.min_margin_bp,
        "override": override,
        "savings": [
            {"kind": s.kind, "ref": s.ref, "saved_fen": s.saved_fen, "name": s.name}
            for s in priced.savings
        ],
    }
    if member is not None:
        how.update(
            tier=member.tier,
            tier_discount_pct=member.discount_pct,
            member_prices={
                it.sku: member.prices[it.sku] for it in items if it.sku in member.prices
            },
        )
    return {"lines": lines, "discounts": [], "total_fen": priced.total_fen, "pricing": how}
