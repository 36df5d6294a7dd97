"""The search over exclusive groups: which combinations of promotions the engine evaluates,
and which of them leaves the cheapest basket. Promotions sharing an exclusive group: at most one
applies. Every combination is tried when there are at most `Policy.exhaustive_limit` of them;
else per group the member that is best alone (greedy). Ties go to the earlier combination
(promotions in id order)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from protocols.pricing import rules
from protocols.pricing.basket import half_up_pct

if TYPE_CHECKING:  # the engine calls the search; the search only reads the engine
    from protocols.pricing.engine import Engine, Outcome


def can_apply(eng: Engine, n: int) -> bool:
    """Whether promotion n can give anything in this basket, whatever else is chosen: an item
    promotion with an offer on the untouched basket, an order promotion whose scope reaches its
    threshold before any discount."""
    rule = eng.promos[n].rule
    if isinstance(rule, rules.SpendSave | rules.Gift):
        return sum(eng.gross[i] for i in eng.scope[n]) >= rule.threshold_fen
    return bool(eng.first[n])


def choices(eng: Engine, limit: int) -> tuple[list[list[int]], str]:
    """The combinations to evaluate: every ungrouped promotion that can apply, and per exclusive
    group one of its members or none (a member may cost the customer more than none: it can
    keep a coupon off a promoted line or under its threshold, or block two smaller offers)."""
    live = [n for n in range(len(eng.promos)) if can_apply(eng, n)]
    free = [n for n in live if eng.promos[n].group is None]
    groups: dict[str, list[int | None]] = {}
    for n in live:
        if (g := eng.promos[n].group) is not None:
            groups.setdefault(g, [None]).append(n)
    if not eng.terms:  # an order promotion only ever takes more off: then none of an
        for g, members in groups.items():  # order-only group never beats a member
            if all(eng.kinds[n] in rules.ORDER_KINDS for n in members[1:]):
                groups[g] = members[1:]
    options = [groups[g] for g in sorted(groups)]
    combos = 1
    for o in options:
        combos *= len(o)
    if combos <= limit:
        return [
            sorted(free + [n for n in c if n is not None]) for c in itertools.product(*options)
        ], "exhaustive"

    def total(n: int | None) -> int:
        return eng.evaluate(sorted(free + ([] if n is None else [n]))).total

    picked: list[int] = []
    for o in options:  # each group's choice that is best alone, beside the ungrouped
        best = min(o, key=total)
        picked += [] if best is None else [best]
    return [sorted(free + picked)], "greedy"


def coupon_bound(eng: Engine, out: Outcome) -> int:
    """The most the coupons could still take off this combination's basket: every coupon at
    its face value (the search skips a combination that cannot win even so)."""
    total, most = out.total, 0
    for t in eng.terms:
        if t.kind == "percent_off":
            off = half_up_pct(total, t.percent_off)
            most += off if t.cap_fen is None else min(off, t.cap_fen)
        elif t.kind == "gift":
            most += max((it.unit_price_fen for it in eng.items if it.sku == t.gift_sku), default=0)
        else:
            most += t.amount_fen
    return min(most, total)


def cheapest(eng: Engine, combos: Sequence[Sequence[int]]) -> Outcome:
    """Stages 1-3 for every combination; then the coupons, the most promising first, skipping a
    combination whose best case with coupons cannot beat the best found (ties go to the earlier
    combination, as if all were evaluated in order)."""
    pre = [eng.promoted(chosen) for chosen in combos]
    best, best_k = None, 0
    for k in sorted(range(len(pre)), key=lambda k: (pre[k].total, k)):
        if best is not None:
            floor = pre[k].total - coupon_bound(eng, pre[k])
            if (floor, k) > (best.total, best_k):
                continue
        out = eng.with_coupons(pre[k])
        if best is None or (out.total, k) < (best.total, best_k):
            best, best_k = out, k
    assert best is not None  # choices() gives at least one combination
    return best
