"""What an item promotion would save on the pieces still free (`Offer`): N件M折 and
buy-X-get-Y groups (`grouped`), bundles (`bundle`); and a line as the coupon stage reads it
(`CouponLine`). The engine's stage 1 chooses among the offers (`engine.Engine._items`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from protocols.pricing import rules
from protocols.pricing.basket import Item


class CouponLine(msgspec.Struct, frozen=True):
    """A line as `coupons.stack` reads it (its `Line` protocol), after the promotions."""

    sku: str
    category: str | None
    unit_price_fen: int
    discount_fen: int
    total_fen: int


class Offer(msgspec.Struct):
    """What one item promotion would save, given the pieces still free: `use` the pieces it
    takes per line, `weights` the value it discounts per line (how the saving is spread)."""

    saving: int
    use: dict[int, int]
    weights: list[int]
    raw: int = 0  # the saving before the margin floor capped it

    @property
    def lines(self) -> list[int]:
        return sorted(self.use)


def grouped(
    items: Sequence[Item], free: Sequence[int], idx: Iterable[int], size: int, skip: int
) -> Offer | None:
    """The free pieces of `idx`, dearest first, cut into complete groups of `size`; in each
    group the pieces after the first `skip` are discounted. An offer of their full value
    (the caller applies the percentage); it takes every piece of the complete groups."""
    runs = sorted(((items[i].unit_price_fen, i, free[i]) for i in idx), key=lambda r: (-r[0], r[1]))
    end = sum(r[2] for r in runs) // size * size
    if end == 0:
        return None

    def count(x: int) -> int:  # discounted positions in [0, x)
        return x // size * (size - skip) + max(0, x % size - skip)

    use, weight, pos = {}, {}, 0
    for unit, i, n in runs:
        if pos >= end:
            break
        use[i] = min(n, end - pos)
        weight[i] = (count(pos + use[i]) - count(pos)) * unit
        pos += n
    lines = sorted(use)
    return Offer(sum(weight.values()), use, [weight[i] for i in lines])


def bundle(
    rule: rules.Bundle, items: Sequence[Item], free: Sequence[int], idx: Iterable[int]
) -> Offer | None:
    have: dict[str, list[int]] = {}
    for i in idx:
        have.setdefault(items[i].sku, []).append(i)
    sets = min(sum(free[i] for i in have.get(b.sku, [])) // b.qty for b in rule.items)
    if sets == 0:
        return None
    use: dict[int, int] = {}
    for b in rule.items:
        need = sets * b.qty
        for i in have[b.sku]:
            if n := min(need, free[i]):
                use[i] = n
                need -= n
    lines = sorted(use)
    weights = [use[i] * items[i].unit_price_fen for i in lines]
    saving = sum(weights) - sets * rule.price_fen
    return Offer(saving, use, weights) if saving > 0 else None
