"""A basket's lines as the pricing engine holds them, and the arithmetic of discounting them:
each line's margin floor, the discounts taken so far and how much more each line can give, and
the spreading of a discount over lines by largest remainder (so the lines always add up)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec


class Item(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One basket line as the engine needs it (cost: per unit, like the price)."""

    sku: str
    qty_milli: int
    unit_price_fen: int
    cost_fen: int | None = None
    category: str | None = None
    weighed: bool = False

    @classmethod
    def of_line(cls, ln: dict[str, Any]) -> Item:
        """A sale's or a basket's line (the contract's shape) as the engine prices it: the lane
        and the hub's recompute build items the same way, so they price alike."""
        return cls(
            sku=ln["sku"],
            qty_milli=ln["qty_milli"],
            unit_price_fen=ln["unit_price_fen"],
            cost_fen=ln.get("cost_fen"),
            category=ln.get("category"),
            weighed=ln.get("weighed", False),
        )


def half_up_pct(amount: int, pct: int) -> int:
    return (amount * pct + 50) // 100


def floor_fen(item: Item, gross: int, min_margin_bp: int) -> int:
    """cost × qty × (1 + margin), rounded up to the fen, never above the line's price."""
    if not item.cost_fen:
        return 0
    num = item.qty_milli * item.cost_fen * (10_000 + min_margin_bp)
    return min(gross, -(-num // 10_000_000))


class Basket:
    """Discounts so far, per line, and how much more each line can give."""

    def __init__(self, gross: list[int], floors: list[int], override: bool) -> None:
        self.gross = gross
        self.stop = [0] * len(gross) if override else floors
        self.disc = [0] * len(gross)
        self.held = 0
        self.gross_total = sum(gross)
        self.off = 0  # sum(disc), kept as discounts are taken

    def restore(self, disc: list[int], held: int) -> None:
        self.disc, self.held, self.off = list(disc), held, sum(disc)

    def net(self, i: int) -> int:
        return self.gross[i] - self.disc[i]

    def room(self, i: int) -> int:
        return self.gross[i] - self.disc[i] - self.stop[i]

    def take(
        self, amount: int, idx: Sequence[int], weights: Sequence[int]
    ) -> tuple[int, list[int]]:
        """Take `amount` fen off the lines `idx` (ascending) in proportion to `weights`
        (`split`); a share beyond a line's room is cut to it and the excess split again over
        the lines with room left, until all is placed. What no room can hold is recorded as
        held by the floor. Returns the fen taken and the lines that gave something."""
        disc, gross, stop = self.disc, self.gross, self.stop
        if len(idx) == 1:  # most item promotions: one line, nothing to split
            i = idx[0]
            s = min(amount, gross[i] - disc[i] - stop[i])
            self.held += amount - s
            self.off += s
            disc[i] += s
            return s, [i] if s else []
        room = [gross[i] - disc[i] - stop[i] for i in idx]
        left = min(amount, sum(room))
        self.held += amount - left
        taken = left
        share = [0] * len(idx)
        live = list(range(len(idx)))
        while left > 0 and live:
            w = [weights[j] for j in live]
            if not any(w):  # nothing to weigh by: by what each can still give
                w = [room[j] for j in live]
            for j, part in zip(live, split(left, w), strict=True):
                s = min(part, room[j])
                room[j] -= s
                share[j] += s
                left -= s
            live = [j for j in live if room[j] > 0]
        for j, i in enumerate(idx):
            disc[i] += share[j]
        self.off += taken
        return taken, [i for j, i in enumerate(idx) if share[j]]


def split(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` in whole fen in proportion to `weights` (not all zero): each its floor
    share, then the fen left over one each to the largest remainders, ties to the earlier."""
    total = sum(weights)
    parts = [amount * w // total for w in weights]
    rest = amount - sum(parts)
    if rest:
        by_rem = sorted(range(len(weights)), key=lambda k: (-(amount * weights[k] % total), k))
        for k in by_rem[:rest]:
            parts[k] += 1
    return parts
