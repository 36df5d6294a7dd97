"""The engine's arithmetic, worked out by hand for each kind of promotion, the stacking and
exclusive groups, the margin floor and the rounding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from protocols.coupons import Terms
from protocols.pricing import (
    Item,
    Member,
    Policy,
    Priced,
    RuleError,
    check_rule,
    price,
    promotion,
)

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def promo(kind: str, group: str | None = None, pid: int | None = None, **rule: object):
    return promotion(
        {"id": pid or next(_ids), "name": kind, "kind": kind, "rule": rule, "group": group}
    )


def pieces(sku: str, n: int, unit: int, **kw: object) -> Item:
    return Item(sku=sku, qty_milli=n * 1000, unit_price_fen=unit, **kw)  # type: ignore[arg-type]


def saved(r: Priced) -> dict[str, int]:
    return {s.ref: s.saved_fen for s in r.savings}


def check_sums(r: Priced) -> None:
    assert r.total_fen == sum(ln.total_fen for ln in r.lines)
    for ln in r.lines:
        assert ln.total_fen == ln.gross_fen - ln.discount_fen
        assert 0 <= ln.discount_fen <= ln.gross_fen
    assert r.discount_fen == sum(s.saved_fen for s in r.savings)


def test_no_promotions_is_the_plain_sum_with_half_up_lines():
    r = price([Item("apple", 1234, 1280, weighed=True), pieces("milk", 3, 350)], at=NOW)
    assert [ln.total_fen for ln in r.lines] == [1580, 1050]  # 1234 g × 12.80/kg = 15.7952 → 15.80
    assert r.total_fen == 2630 and r.savings == []


def test_spend_save_at_the_threshold_and_one_fen_below():
    p = promo("spend_save", threshold_fen=10000, save_fen=2000, pid=7)
    at = price([pieces("a", 1, 6000), pieces("b", 1, 4000)], [p], at=NOW)
    assert at.total_fen == 8000 and saved(at) == {"7": 2000}
    # spread by value: 6000:4000 → 1200 + 800
    assert [ln.discount_fen for ln in at.lines] == [1200, 800]
    below = price([pieces("a", 1, 6000), pieces("b", 1, 3999)], [p], at=NOW)
    assert below.total_fen == 9999 and below.savings == []


def test_spend_save_repeated_per_threshold_and_capped():
    rep = promo("spend_save", threshold_fen=10000, save_fen=2000, repeat=True, pid=8)
    r = price([pieces("a", 1, 29999)], [rep], at=NOW)
    assert saved(r) == {"8": 4000}  # two full 100s in 299.99
    capped = promo("spend_save", threshold_fen=10000, save_fen=2000, repeat=True, cap_fen=3000)
    assert price([pieces("a", 1, 50000)], [capped], at=NOW).total_fen == 47000


def test_spend_save_remainder_goes_by_largest_remainder_then_line_order():
    p = promo("spend_save", threshold_fen=300, save_fen=100)
    r = price([pieces("a", 1, 100), pieces("b", 1, 100), pieces("c", 1, 100)], [p], at=NOW)
    # 100/3 = 33.33 each: the one fen left over goes to the first line (equal remainders)
    assert [ln.discount_fen for ln in r.lines] == [34, 33, 33]
    check_sums(r)


def test_multibuy_takes_complete_groups_and_leaves_the_remainder_at_full_price():
    p = promo("multibuy", n=2, percent_off=20, pid=11)  # 2件8折
    r = price([pieces("a", 5, 1000)], [p], at=NOW)
    assert saved(r) == {"11": 800}  # 4 pieces × 10.00 × 20%; the 5th pays 10.00
    assert r.total_fen == 4200
    # mixed prices in one scope: dearest pieces form the groups
    mixed = price([pieces("a", 1, 1500), pieces("b", 2, 1000)], [p], at=NOW)
    assert saved(mixed) == {"11": 500}  # (15.00 + 10.00) × 20%; one b at full price
    assert [ln.discount_fen for ln in mixed.lines] == [300, 200]


def test_multibuy_rounds_its_percentage_once_half_up():
    p = promo("multibuy", n=3, percent_off=10)
    r = price([pieces("a", 3, 333)], [p], at=NOW)
    assert r.discount_fen == 100  # 999 × 10% = 99.9 → 100


def test_buy_two_get_one_frees_the_cheapest_in_each_group():
    p = promo("buy_x_get_y", buy=2, get=1, pid=21)
    r = price([pieces("a", 2, 1000), pieces("b", 2, 500), pieces("c", 1, 300)], [p], at=NOW)
    # dearest first: [10, 10, 5] [5, 3]: the first group's free piece is a 5.00; the second
    # group is incomplete
    assert saved(r) == {"21": 500}
    assert r.lines[1].discount_fen == 500


def test_overlapping_bundles_take_the_better_one_and_split_a_line_by_pieces():
    ab = promo("bundle", items=[{"sku": "A"}, {"sku": "B"}], price_fen=1500, pid=31)  # saves 300
    ac = promo("bundle", items=[{"sku": "A"}, {"sku": "C"}], price_fen=1200, pid=32)  # saves 500
    basket = [pieces("A", 1, 1000), pieces("B", 1, 800), pieces("C", 1, 700)]
    r = price(basket, [ab, ac], at=NOW)
    assert saved(r) == {"32": 500} and r.total_fen == 2000
    # two A on one line: each bundle gets one of them
    both = price([pieces("A", 2, 1000), pieces("B", 1, 800), pieces("C", 1, 700)], [ab, ac], at=NOW)
    assert saved(both) == {"31": 300, "32": 500} and both.total_fen == 1500 + 1200
    check_sums(both)


def test_bundle_sets_as_many_as_the_basket_holds():
    p = promo("bundle", items=[{"sku": "A", "qty": 2}, {"sku": "B"}], price_fen=2000)
    r = price([pieces("A", 5, 1000), pieces("B", 3, 500)], [p], at=NOW)
    # two sets (4 A + 2 B = 50.00 → 40.00); 1 A and 1 B at full price
    assert r.discount_fen == 1000 and r.total_fen == 6500 - 1000


def test_a_line_takes_one_item_promotion_the_best_one():
    ten = promo("percent_off", percent_off=10, pid=41)
    half = promo("percent_off", percent_off=50, skus=["b"], pid=42)
    r = price([pieces("a", 1, 1000), pieces("b", 1, 1000)], [ten, half], at=NOW)
    assert saved(r) == {"41": 100, "42": 500}


def test_exclusive_group_picks_the_member_best_for_the_customer():
    small = promo("spend_save", group="autumn", threshold_fen=1000, save_fen=100, pid=51)
    big = promo("percent_off", group="autumn", percent_off=20, pid=52)
    other = promo("spend_save", threshold_fen=1000, save_fen=50, pid=53)
    r = price([pieces("a", 2, 1000)], [small, big, other], at=NOW)
    assert saved(r) == {"52": 400, "53": 50} and r.promotions == [52, 53]
    assert r.search == "exhaustive"


def test_many_groups_fall_back_to_greedy_and_still_pick_each_groups_best():
    ps = []
    for g in range(4):  # (3 members or none)^4 = 256 combinations > 64
        ps += [
            promo("percent_off", group=f"g{g}", skus=[f"s{g}"], percent_off=p) for p in (5, 30, 10)
        ]
    r = price([pieces(f"s{g}", 1, 1000) for g in range(4)], ps, at=NOW)
    assert r.search == "greedy" and r.total_fen == 4 * 700
    assert (
        price(
            [pieces(f"s{g}", 1, 1000) for g in range(4)],
            ps,
            at=NOW,
            policy=Policy(exhaustive_limit=256),
        ).search
        == "exhaustive"
    )


def test_member_price_or_promotion_whichever_is_lower_and_tier_on_the_rest():
    m = Member(tier="gold", discount_pct=95, prices={"a": 800})
    ten = promo("percent_off", percent_off=10, skus=["a", "b"])
    r = price(
        [pieces("a", 1, 1000), pieces("b", 1, 1000), pieces("c", 1, 1000)], [ten], at=NOW, member=m
    )
    by_kind = {s.kind: s.saved_fen for s in r.savings}
    # a: member price 8.00 beats 10% (200 > 100); b: 10%; c: untouched, so the tier's 95折
    assert by_kind == {"member_price": 200, "percent_off": 100, "tier": 50}
    assert r.total_fen == 800 + 900 + 950


def test_spend_save_is_judged_after_item_promotions():
    ten = promo("percent_off", percent_off=10)
    mj = promo("spend_save", threshold_fen=10000, save_fen=1000)
    r = price([pieces("a", 1, 10500)], [ten, mj], at=NOW)
    assert r.total_fen == 10500 - 1050  # 94.50 after 10% misses the 100.00 threshold


def test_gift_in_the_basket_is_free_else_handed_out():
    g = promo("gift", threshold_fen=5000, gift_sku="towel", pid=61)
    r = price([pieces("a", 1, 5000), pieces("towel", 2, 900)], [g], at=NOW)
    assert saved(r) == {"61": 900} and r.handouts == []
    out = price([pieces("a", 1, 5000)], [g], at=NOW)
    assert out.total_fen == 5000 and [(h.sku, h.qty) for h in out.handouts] == [("towel", 1)]


def test_coupons_after_promotions_with_their_stacking_rules():
    mj = promo("spend_save", threshold_fen=10000, save_fen=1000, pid=71)
    c1 = Terms(code="C1", kind="amount_off", amount_fen=500, threshold_fen=9000, stackable=True)
    c2 = Terms(code="C2", kind="percent_off", percent_off=10, stackable=True)
    alone = Terms(code="C3", kind="amount_off", amount_fen=100)
    r = price([pieces("a", 1, 10000)], [mj], at=NOW, coupons_presented=[c1, c2, alone])
    # 100.00 - 10.00 (满减) = 90.00; percent first: 10% = 9.00; then 5.00 (threshold on 90.00)
    assert saved(r) == {"71": 1000, "C2": 900, "C1": 500}
    assert r.total_fen == 7600
    assert r.coupons_refused == [("C3", "does not combine with other coupons")]
    check_sums(r)


def test_margin_floor_holds_a_line_at_cost_plus_margin_unless_overridden():
    half = promo("percent_off", percent_off=50)
    item = pieces("a", 2, 1000, cost_fen=700)  # cost 14.00, +5% = 14.70
    r = price([item], [half], at=NOW, policy=Policy(min_margin_bp=500))
    assert r.lines[0].floor_fen == 1470 and r.total_fen == 1470
    assert r.held_by_floor_fen == 1000 - 530 and not r.override_used
    o = price([item], [half], at=NOW, policy=Policy(min_margin_bp=500), override=True)
    assert o.total_fen == 1000 and o.override_used and o.lines[0].below_floor


def test_floor_moves_an_order_discount_onto_lines_with_room():
    mj = promo("spend_save", threshold_fen=2000, save_fen=400)
    basket = [pieces("a", 1, 1000, cost_fen=1000), pieces("b", 1, 1000)]
    r = price(basket, [mj], at=NOW)
    assert [ln.discount_fen for ln in r.lines] == [0, 400] and r.held_by_floor_fen == 0


def test_promotions_outside_their_window_do_not_apply():
    p = promotion(
        {
            "id": 99,
            "name": "x",
            "kind": "percent_off",
            "rule": {"percent_off": 50},
            "valid_from": (NOW + timedelta(hours=1)).isoformat(),
        }
    )
    assert price([pieces("a", 1, 1000)], [p], at=NOW).total_fen == 1000
    assert price([pieces("a", 1, 1000)], [p], at=NOW + timedelta(hours=2)).total_fen == 500


def test_naive_time_and_bad_lines_are_refused():
    with pytest.raises(ValueError, match="UTC offset"):
        price([pieces("a", 1, 1)], at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="line 1"):
        price([Item("a", 0, 100)], at=NOW)


@pytest.mark.parametrize(
    ("kind", "rule", "reason"),
    [
        ("spend_save", {"threshold_fen": 100, "save_fen": 200}, "must not exceed"),
        ("bundle", {"items": [{"sku": "a"}], "price_fen": 1}, "at least two pieces"),
        ("bundle", {"items": [{"sku": "a"}, {"sku": "a"}], "price_fen": 1}, "each sku once"),
        ("multibuy", {"n": 1, "percent_off": 10}, ">= 2"),
        ("percent_off", {"percent_off": 10.5}, "Expected `int`"),
        ("percent_off", {"percent_off": 0}, ">= 1"),
        ("gift", {"threshold_fen": 100}, "missing required field `gift_sku`"),
        ("spend_save", {"save_fen": 100}, "missing required field `threshold_fen`"),
        ("percent_off", {"pct": 5}, "unknown field `pct`"),
        ("free_beer", {}, "unknown promotion kind"),
        ("percent_off", {"kind": "gift", "percent_off": 5}, "differs"),
    ],
)
def test_rules_the_engine_cannot_evaluate_are_refused_with_the_reason(kind, rule, reason):
    with pytest.raises(RuleError, match=reason):
        check_rule(kind, rule)
