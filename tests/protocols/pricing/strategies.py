"""Hypothesis strategies: small catalogs (so promotions and lines meet often), baskets,
promotions of every kind as the hub's API takes them, members, coupons, policies."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from protocols.coupons import Terms
from protocols.pricing import Item, Member, Policy

SKUS = [f"s{n}" for n in range(8)]
CATEGORY = {sku: ("drinks", "snacks", "fresh", None)[n % 4] for n, sku in enumerate(SKUS)}
CATEGORIES = ["drinks", "snacks", "fresh"]


@st.composite
def items(draw: st.DrawFn) -> list[Item]:
    out = []
    for _ in range(draw(st.integers(1, 10))):
        sku = draw(st.sampled_from(SKUS))
        price = draw(st.integers(1, 5000))
        weighed = CATEGORY[sku] == "fresh" and draw(st.booleans())
        qty = draw(st.integers(50, 3000)) if weighed else 1000 * draw(st.integers(1, 6))
        cost = draw(st.none() | st.integers(0, price * 6 // 5))  # sometimes above the price
        out.append(Item(sku, qty, price, cost, CATEGORY[sku], weighed))
    return out


scope = st.one_of(
    st.just({}),
    st.builds(lambda s: {"skus": s}, st.lists(st.sampled_from(SKUS), min_size=1, max_size=3)),
    st.builds(lambda c: {"categories": c}, st.lists(st.sampled_from(CATEGORIES), min_size=1)),
)


@st.composite
def rule(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(
        st.sampled_from(["percent_off", "spend_save", "gift", "multibuy", "bundle", "buy_x_get_y"])
    )
    pct = st.integers(1, 100)
    if kind == "percent_off":
        return kind, {**draw(scope), "percent_off": draw(pct)}
    if kind == "spend_save":
        t = draw(st.integers(1, 20000))
        r = {**draw(scope), "threshold_fen": t, "save_fen": draw(st.integers(1, t))}
        r["repeat"] = draw(st.booleans())
        if draw(st.booleans()):
            r["cap_fen"] = draw(st.integers(1, 10000))
        return kind, r
    if kind == "gift":
        return kind, {
            **draw(scope),
            "threshold_fen": draw(st.integers(1, 20000)),
            "gift_sku": draw(st.sampled_from(SKUS)),
            "gift_qty": draw(st.integers(1, 3)),
        }
    if kind == "multibuy":
        return kind, {**draw(scope), "n": draw(st.integers(2, 4)), "percent_off": draw(pct)}
    if kind == "bundle":
        skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
        qty = [draw(st.integers(1, 2)) for _ in skus]
        if sum(qty) < 2:
            qty[0] = 2
        return kind, {
            "items": [{"sku": s, "qty": q} for s, q in zip(skus, qty, strict=True)],
            "price_fen": draw(st.integers(0, 8000)),
        }
    return kind, {
        **draw(scope),
        "buy": draw(st.integers(1, 3)),
        "get": draw(st.integers(1, 2)),
        "percent_off": draw(pct),
    }


@st.composite
def promotion_docs(draw: st.DrawFn, max_size: int = 8) -> list[dict[str, Any]]:
    """Promotions as the hub's API takes them (name, kind, rule, group)."""
    out = []
    for n in range(draw(st.integers(0, max_size))):
        kind, r = draw(rule())
        group = draw(st.sampled_from([None, None, "g1", "g2"]))
        out.append({"name": f"p{n}", "kind": kind, "rule": r, "group": group})
    return out


members = st.none() | st.builds(
    lambda pct, tier, prices: Member(tier=tier, discount_pct=pct, prices=prices),
    st.integers(80, 100),
    st.sampled_from(["silver", "gold"]),
    st.dictionaries(st.sampled_from(SKUS), st.integers(0, 4000), max_size=3),
)


@st.composite
def coupons(draw: st.DrawFn) -> list[Terms]:
    out = []
    for n in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["amount_off", "percent_off", "threshold"]))
        out.append(
            Terms(
                code=f"C{n}",
                kind=kind,
                amount_fen=draw(st.integers(0, 3000)),
                percent_off=draw(st.integers(0, 50)),
                threshold_fen=draw(st.integers(0, 10000)) if kind == "threshold" else 0,
                categories=draw(st.lists(st.sampled_from(CATEGORIES), max_size=1)),
                stackable=draw(st.booleans()),
                on_promoted_lines=draw(st.booleans()),
            )
        )
    return out


policies = st.builds(lambda bp: Policy(min_margin_bp=bp), st.integers(0, 3000))
