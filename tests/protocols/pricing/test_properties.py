"""Properties of the engine over random catalogs, promotions, members, coupons and policies:
the receipt adds up, the margin floor holds unless overridden, the result does not depend on
the order the promotions come in, and the exclusive-group search finds the customer's best."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.pricing import Priced, price, promotion
from tests.protocols.pricing.strategies import coupons, items, members, policies, promotion_docs

AT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def typed(docs):
    return [promotion({"id": n, **d}) for n, d in enumerate(docs, 1)]


def adds_up(r: Priced) -> None:
    assert r.total_fen == sum(ln.total_fen for ln in r.lines) == r.gross_fen - r.discount_fen
    for ln in r.lines:
        assert 0 <= ln.discount_fen <= ln.gross_fen
        assert ln.total_fen == ln.gross_fen - ln.discount_fen
    assert r.discount_fen == sum(s.saved_fen for s in r.savings)
    for s in r.savings:
        assert s.saved_fen > 0 and s.lines


@settings(max_examples=300, deadline=None)
@given(items(), promotion_docs(), members, coupons(), policies, st.booleans())
def test_the_receipt_adds_up_and_the_floor_holds_unless_overridden(
    basket, docs, member, cps, policy, override
):
    r = price(
        basket,
        typed(docs),
        at=AT,
        member=member,
        coupons_presented=cps,
        policy=policy,
        override=override,
    )
    adds_up(r)
    assert r.total_fen <= sum(ln.gross_fen for ln in r.lines)
    below = [ln for ln in r.lines if ln.total_fen < ln.floor_fen]
    assert r.override_used == bool(below) == any(ln.below_floor for ln in r.lines)
    if not override:
        assert not below and r.override_used is False
    for ln, it in zip(r.lines, basket, strict=True):
        assert ln.floor_fen <= ln.gross_fen
        if it.cost_fen and not override:  # never below cost, whatever the promotions
            assert ln.total_fen * 1000 >= min(ln.gross_fen * 1000, it.qty_milli * it.cost_fen)


@settings(max_examples=150, deadline=None)
@given(items(), promotion_docs(), members, coupons(), policies, st.randoms())
def test_the_order_promotions_arrive_in_changes_nothing(basket, docs, member, cps, policy, rnd):
    promos = typed(docs)
    shuffled = list(promos)
    rnd.shuffle(shuffled)
    kw = {"at": AT, "member": member, "coupons_presented": cps, "policy": policy}
    assert price(basket, promos, **kw) == price(basket, shuffled, **kw)


@settings(max_examples=150, deadline=None)
@given(items(), promotion_docs(), members, policies)
def test_the_search_picks_the_customers_best_combination_of_exclusive_groups(
    basket, docs, member, policy
):
    promos = typed(docs)
    best = price(basket, promos, at=AT, member=member, policy=policy)
    assert best.search == "exhaustive"
    groups = {p.group for p in promos if p.group}
    for g in groups:  # the search restricted to any one member of a group: never cheaper
        for p in (p for p in promos if p.group == g):
            alone = [q for q in promos if q.group != g or q is p]
            again = price(basket, alone, at=AT, member=member, policy=policy)
            assert again.total_fen >= best.total_fen
