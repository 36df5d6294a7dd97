"""Coupons: codes with a check character, templates and their limits, validity, scope,
issuance by hand, in bulk and by trigger, checking a basket with the shared stacking rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hub.coupons import service as coupons
from hub.coupons.models import Coupon, CouponTemplate
from hub.db import Database
from hub.members.service import Members
from protocols import coupons as rules
from protocols.coupons import BasketLine, Terms
from tests.hub.till import register

NOW = datetime.now(UTC)


def template(db: Database, **kw: object) -> int:
    base: dict[str, object] = {
        "name": "t",
        "kind": "amount_off",
        "amount_fen": 500,
        "valid_days": 30,
    }
    with db.transaction() as s:
        t = CouponTemplate(**{**base, **kw})
        s.add(t)
        s.flush()
        return t.id


# --- codes ---------------------------------------------------------------------------------------
def test_codes_are_unguessable_and_carry_a_check_character():
    codes = {rules.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for c in list(codes)[:50]:
        assert len(c) == 16 and rules.normalize(c) == c
        assert rules.normalize(rules.pretty(c).lower()) == c


@given(
    st.text(alphabet=rules.ALPHABET, min_size=15, max_size=15),
    st.integers(0, 14),
    st.integers(1, 31),
)
def test_any_single_wrong_character_is_caught(body: str, pos: int, shift: int):
    code = body + rules.check_char(body)
    wrong_ch = rules.ALPHABET[(rules.ALPHABET.index(code[pos]) + shift) % 32]
    wrong = code[:pos] + wrong_ch + code[pos + 1 :]
    with pytest.raises(rules.CodeError, match="check character"):
        rules.normalize(wrong)


@given(st.text(alphabet=rules.ALPHABET, min_size=15, max_size=15), st.integers(0, 13))
def test_swapped_neighbours_are_caught_when_they_differ(body: str, pos: int):
    code = body + rules.check_char(body)
    a, b = code[pos], code[pos + 1]
    swapped = code[:pos] + b + a + code[pos + 2 :]
    ia, ib = rules.ALPHABET.index(a), rules.ALPHABET.index(b)
    # Luhn mod N misses only the swap of the two symbols whose doubled sums coincide
    if a != b and {ia, ib} != {0, 31}:
        with pytest.raises(rules.CodeError):
            rules.normalize(swapped)


def test_what_people_type_is_forgiven_what_is_wrong_is_explained():
    c = rules.new_code()
    typed = rules.pretty(c).replace("0", "o").replace("1", "l").lower()
    assert rules.normalize(typed) == c
    with pytest.raises(rules.CodeError, match="16 characters"):
        rules.normalize(c[:-2])
    with pytest.raises(rules.CodeError, match="not coupon code characters"):
        rules.normalize(c[:-1] + "U")


# --- stacking (shared with the lanes' pricing) ---------------------------------------------------
def basket() -> list[BasketLine]:
    return [
        BasketLine(sku="milk", category="dairy", total_fen=6000),
        BasketLine(
            sku="cake", category="bakery", unit_price_fen=1500, total_fen=3000, qty_milli=2000
        ),
        BasketLine(sku="wine", category="liquor", total_fen=10000, discount_fen=2000),
    ]


def test_percent_off_is_capped_and_scoped():
    t = Terms(
        code="P", kind="percent_off", percent_off=20, cap_fen=1500, categories=["dairy", "bakery"]
    )
    assert rules.stack(basket(), [t]).applied[0].discount_fen == 1500  # 20% of 9000 = 1800
    uncapped = msgspec.structs.replace(t, cap_fen=None)
    assert rules.stack(basket(), [uncapped]).applied[0].discount_fen == 1800


def test_threshold_is_judged_on_eligible_goods_after_promotions():
    t = Terms(
        code="T", kind="threshold", amount_fen=2000, threshold_fen=10000, on_promoted_lines=False
    )
    r = rules.stack(basket(), [t])  # wine was promoted: 6000 + 3000 eligible < 10000
    assert r.applied == [] and "needs 10000" in r.refused[0].reason
    r = rules.stack(basket(), [msgspec.structs.replace(t, on_promoted_lines=True)])
    assert r.total_off == 2000


def test_a_non_stackable_coupon_stands_alone_stackables_combine_in_order():
    gift = Terms(code="G", kind="gift", gift_sku="cake", stackable=True)
    pct = Terms(code="P", kind="percent_off", percent_off=10, stackable=True)
    amt = Terms(code="A", kind="amount_off", amount_fen=1000, stackable=True)
    lone = Terms(code="L", kind="amount_off", amount_fen=500)
    r = rules.stack(basket(), [amt, pct, gift, lone])
    assert [a.code for a in r.applied] == ["G", "P", "A"]
    # gift: one cake (1500); then 10% of what is left (19000 - 1500 = 17500 → 1750); then 1000
    assert [a.discount_fen for a in r.applied] == [1500, 1750, 1000]
    assert [x.code for x in r.refused] == ["L"]
    assert rules.stack(basket(), [lone]).total_off == 500


def test_discounts_never_exceed_the_goods_and_store_scope_holds():
    big = Terms(code="B", kind="amount_off", amount_fen=10**9, skus=["milk"])
    assert rules.stack(basket(), [big]).total_off == 6000
    scoped = Terms(code="S", kind="amount_off", amount_fen=100, stores=["s9"])
    assert rules.stack(basket(), [scoped], store="s1").refused[0].reason == (
        "not valid in this store"
    )


# --- templates and issuance ----------------------------------------------------------------------
def test_validity_fixed_dates_or_days_from_issue(db: Database, members: Members):
    m = register(db, members, "13000130000")
    fixed_end = NOW + timedelta(days=10)
    t_fixed = template(db, valid_until=fixed_end, valid_days=None)
    t_days = template(db, valid_days=7)
    with db.transaction() as s:
        a = coupons.issue(s, t_fixed, m).coupon
        b = coupons.issue(s, t_days, m, now=NOW).coupon
        assert abs((a.valid_until - fixed_end).total_seconds()) < 1
        assert abs((b.valid_until - (NOW + timedelta(days=7))).total_seconds()) < 1
        late = NOW + timedelta(days=8)
        assert coupons.redeem(s, b.code, sale_id="x", store_id="s1", member_id=m, at=late).reason
        assert not coupons.redeem(s, b.code, sale_id="x", store_id="s1", member_id=m, at=late).ok


def test_per_member_and_total_limits(db: Database, members: Members):
    a = register(db, members, "13000130001")
    b = register(db, members, "13000130002")
    tid = template(db, per_member_limit=2, total_limit=3)
    with db.transaction() as s:
        coupons.issue(s, tid, a)
        coupons.issue(s, tid, a)
    with pytest.raises(coupons.CouponError, match="limit 2"), db.transaction() as s:
        coupons.issue(s, tid, a)
    with db.transaction() as s:
        coupons.issue(s, tid, b)
    with pytest.raises(coupons.CouponError, match="sold out"), db.transaction() as s:
        coupons.issue(s, tid, b)


def test_bulk_issue_to_a_list_is_safe_to_rerun(db: Database, members: Members):
    ms = [register(db, members, f"1300013001{i}") for i in range(5)]
    tid = template(db, per_member_limit=1)
    with db.transaction() as s:
        first = coupons.issue_bulk(s, tid, ms, key="spring-campaign")
    with db.transaction() as s:
        again = coupons.issue_bulk(s, tid, ms, key="spring-campaign")
    assert len(first["issued"]) == 5 and first["refused"] == []
    assert again["issued"] == [] and again["already_issued"] == 5


def test_trigger_issues_on_registration(db: Database, members: Members):
    tid = template(db, trigger="member.registered", name="新人券")
    m = register(db, members, "13000130020")
    with db.transaction() as s:
        got = s.scalars(select(Coupon).where(Coupon.member_id == m)).all()
        assert [c.template_id for c in got] == [tid] and got[0].issue_source == "trigger"


def test_check_a_basket_and_refusals(db: Database, members: Members):
    m = register(db, members, "13000130021")
    other = register(db, members, "13000130022")
    tid = template(db, kind="percent_off", percent_off=10, amount_fen=0, cap_fen=500)
    with db.transaction() as s:
        code = coupons.issue(s, tid, m).coupon.code
    lines = basket()
    with db.transaction() as s:
        ok = coupons.check(s, rules.pretty(code), member_id=m, lines=lines, store="s1")
        assert ok["ok"] and ok["discount_fen"] == 500
        theirs = coupons.check(s, code, member_id=other, lines=lines, store="s1")
        assert not theirs["ok"] and theirs["reason"] == "belongs to another member"
        assert coupons.redeem(s, code, sale_id="s-1", store_id="s1", member_id=m).ok
        used = coupons.check(s, code, member_id=m, lines=lines, store="s1")
        assert not used["ok"] and "already used" in used["reason"]
        with pytest.raises(coupons.CouponError, match="check character"):
            coupons.check(
                s,
                code[:-1] + ("0" if code[-1] != "0" else "1"),
                member_id=m,
                lines=lines,
                store="s1",
            )


def test_void_only_an_unused_coupon(db: Database):
    tid = template(db)
    with db.transaction() as s:
        a = coupons.issue(s, tid, None).coupon.code
        b = coupons.issue(s, tid, None).coupon.code
        coupons.redeem(s, b, sale_id="s-2", store_id="s1", member_id=None)
    with db.transaction() as s:
        assert coupons.void(s, a, "printed by mistake").status == "void"
        assert not coupons.redeem(s, a, sale_id="s-3", store_id="s1", member_id=None).ok
    with pytest.raises(coupons.CouponError, match="only an unused"), db.transaction() as s:
        coupons.void(s, b, "too late")
