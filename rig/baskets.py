"""A store's busy day for the pricing engine: a catalog, a basket and the promotions running,
drawn from a seeded RNG (the benchmark and the end-to-end tests use the same shapes)."""

from __future__ import annotations

import random
from typing import Any

from protocols.pricing import Item, promotion
from protocols.pricing.rules import Promotion

CATEGORIES = ("drinks", "snacks", "dairy", "fresh", "household", "frozen")


def catalog(rng: random.Random, n: int = 300) -> list[dict[str, Any]]:
    """Items with a price and a cost 55-90 % of it; every tenth one weighed (price per kg)."""
    out = []
    for k in range(n):
        unit = rng.randrange(100, 5000)
        out.append(
            {
                "sku": f"69{k:011d}",
                "category": CATEGORIES[k % len(CATEGORIES)],
                "unit_price_fen": unit,
                "cost_fen": unit * rng.randrange(55, 90) // 100,
                "weighed": k % 10 == 9,
            }
        )
    return out


def basket(rng: random.Random, items: list[dict[str, Any]], lines: int) -> list[Item]:
    out = []
    for it in rng.sample(items, lines):
        qty = rng.randrange(150, 2500) if it["weighed"] else 1000 * rng.randrange(1, 6)
        out.append(Item(qty_milli=qty, **it))
    return out


def promotions(rng: random.Random, items: list[dict[str, Any]], n: int = 50) -> list[Promotion]:
    """n promotions of every kind, a few in exclusive groups (three groups of two)."""
    return [promotion(d) for d in promotion_docs(rng, items, n)]


def promotion_docs(
    rng: random.Random, items: list[dict[str, Any]], n: int = 50
) -> list[dict[str, Any]]:
    """`promotions` as the hub's API and snapshots write them (id, name, kind, rule, group)."""
    skus = [it["sku"] for it in items if not it["weighed"]]
    docs: list[dict[str, Any]] = []
    kinds = (
        ["percent_off"] * 18
        + ["multibuy"] * 8
        + ["bundle"] * 8
        + ["buy_x_get_y"] * 6
        + ["spend_save"] * 6
        + ["gift"] * 4
    )
    for k in range(n):
        kind = kinds[k % len(kinds)]
        scope = (
            {"categories": [rng.choice(CATEGORIES)]}
            if rng.random() < 0.3
            else {"skus": rng.sample(skus, rng.randrange(1, 8))}
        )
        if kind == "percent_off":
            rule = {**scope, "percent_off": rng.choice((5, 10, 15, 20, 30))}
        elif kind == "multibuy":
            rule = {**scope, "n": rng.choice((2, 3)), "percent_off": rng.choice((10, 20, 50))}
        elif kind == "bundle":
            picks = rng.sample(skus, rng.randrange(2, 4))
            rule = {"items": [{"sku": s} for s in picks], "price_fen": rng.randrange(300, 3000)}
        elif kind == "buy_x_get_y":
            rule = {**scope, "buy": rng.choice((1, 2)), "get": 1}
        elif kind == "spend_save":
            t = rng.choice((5000, 10000, 20000))
            rule = {"threshold_fen": t, "save_fen": t // 10, "repeat": rng.random() < 0.5}
        else:
            rule = {"threshold_fen": 10000, "gift_sku": rng.choice(skus)}
        group = f"g{k % 3}" if k >= n - 6 else None
        docs.append(
            {"id": k + 1, "name": f"{kind} {k + 1}", "kind": kind, "rule": rule, "group": group}
        )
    return docs
