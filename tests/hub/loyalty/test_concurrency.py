"""Invariants under real concurrency: real threads, each with its own connection and
transaction, against the real database (SQLite's BEGIN IMMEDIATE, PostgreSQL's row locks).
On PostgreSQL the engine's pool lets 20 of them at the database at once."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.coupons import service as coupons
from hub.coupons.models import Coupon, CouponEvent, CouponTemplate
from hub.db import Database
from hub.loyalty import books, mall
from hub.loyalty.models import LoyaltyIssue, MallItem, MallOrder
from hub.loyalty.service import InsufficientPoints, Ledger, PointsError
from hub.members.service import Members
from rig.race import race
from tests.hub.till import Till, line, register


def test_100_concurrent_redemptions_of_one_coupon_exactly_one_wins(db: Database):
    with db.transaction() as s:
        t = CouponTemplate(name="立减10元", kind="amount_off", amount_fen=1000, valid_days=7)
        s.add(t)
        s.flush()
        code = coupons.issue(s, t.id, None).coupon.code

    def attempt(i: int) -> bool:
        with db.transaction() as s:
            return coupons.redeem(s, code, sale_id=f"order-{i}", store_id="s1", member_id=None).ok

    results = race(100, attempt)
    errors = [r for r in results if not isinstance(r, bool)]
    assert not errors, errors
    assert results.count(True) == 1
    with db.transaction() as s:
        c = s.get(Coupon, code)
        assert c is not None and c.redeemed_sale_id == f"order-{results.index(True)}"
        redeemed = s.execute(
            select(func.count()).where(CouponEvent.code == code, CouponEvent.kind == "redeemed")
        ).scalar_one()
        assert redeemed == 1


def test_one_coupon_on_sales_ingested_concurrently_from_two_stores(db: Database, members: Members):
    m = register(db, members, "13300133000")
    with db.transaction() as s:
        t = CouponTemplate(name="立减10元", kind="amount_off", amount_fen=1000, valid_days=7)
        s.add(t)
        s.flush()
        code = coupons.issue(s, t.id, m).coupon.code
    tills = [Till(db, f"s{i}") for i in range(6)]
    sales = [
        t.sale(
            [line("A", 5000)],
            member=m,
            coupons=[code],
            discounts=[{"code": code, "amount_fen": 1000}],
        )
        for t in tills
    ]
    results = race(6, lambda i: tills[i].send(sales[i]))
    assert all(not isinstance(r, Exception) for r in results), results
    with db.transaction() as s:
        c = s.get(Coupon, code)
        assert c is not None and c.status == "redeemed"
        assert c.redeemed_sale_id in {x["id"] for x in sales}
        assert books.check_books(s) == []
        conflicts = s.scalars(select(LoyaltyIssue).where(LoyaltyIssue.kind == "coupon_conflict"))
        assert len(list(conflicts)) == 5


def test_concurrent_spends_never_take_the_balance_below_zero(db: Database, members: Members):
    m = register(db, members, "13300133001")
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        led.credit(m, "adjust_in", 1000, source_type="manual", source_id="seed")

    def spend(i: int) -> bool:
        with db.transaction() as s:
            led = Ledger(s)
            led.lock([m])
            led.debit(m, "spend", 30, source_type="manual", source_id=f"spend-{i}")
            return True

    results = race(50, spend)
    won = [r for r in results if r is True]
    refused = [r for r in results if isinstance(r, InsufficientPoints)]
    assert len(won) == 33 and len(refused) == 17, results
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        assert led.account(m).balance == 10
        assert books.check_books(s) == []


def test_concurrent_reservations_never_hold_more_than_the_balance(db: Database, members: Members):
    m = register(db, members, "13300133002")
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        led.credit(m, "adjust_in", 500, source_type="manual", source_id="seed")

    def reserve(i: int) -> str:
        with db.transaction() as s:
            return Ledger(s).reserve(f"rsv-conc-{i:03d}", m, 120).id

    results = race(20, reserve)
    held = [r for r in results if isinstance(r, str)]
    assert len(held) == 4
    assert all(isinstance(r, InsufficientPoints) for r in results if not isinstance(r, str))
    commits = race(len(held), lambda i: _commit(db, held[i]))
    assert all(c == "committed" for c in commits), commits
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        assert (led.account(m).balance, led.account(m).held) == (20, 0)
        assert books.check_books(s) == []


def _commit(db: Database, rid: str) -> str:
    with db.transaction() as s:
        return Ledger(s).commit(rid).status


def test_concurrent_orders_for_the_last_items_in_the_mall(db: Database, members: Members):
    buyers = [register(db, members, f"1330013301{i}") for i in range(10)]
    with db.transaction() as s:
        led = Ledger(s)
        led.lock(buyers)
        for b in buyers:
            led.credit(b, "adjust_in", 1000, source_type="manual", source_id="seed")
        s.add(
            MallItem(
                id=7,
                name="电影票",
                kind="perk",
                partner="万达",
                points_price=300,
                stock=4,
                per_member_limit=1,
            )
        )

    def order(i: int) -> str:
        with db.transaction() as s:
            return mall.place(s, f"order-{i:04d}", 7, buyers[i % 10]).id

    results = race(20, order)  # every buyer tries twice
    placed = [r for r in results if isinstance(r, str)]
    assert len(placed) == 4
    assert all(isinstance(r, PointsError) for r in results if not isinstance(r, str))
    with db.transaction() as s:
        item = s.get(MallItem, 7)
        assert item is not None and item.stock == 0
        owners = s.scalars(select(MallOrder.member_id)).all()
        assert len(owners) == len(set(owners)) == 4  # one per member
        assert books.check_books(s) == []


def test_stores_ingesting_at_once_for_the_same_members_keep_the_books(
    db: Database, members: Members
):
    """Four gateways apply batches concurrently: earnings, points paid through holds and
    refunds, all for the same five members, while HQ adjusts by hand. Nothing is lost,
    nothing counted twice, no balance below zero."""
    ms = [register(db, members, f"1320013200{i}") for i in range(5)]
    with db.transaction() as s:
        led = Ledger(s)
        led.lock(ms)
        for m in ms:
            led.credit(m, "adjust_in", 1000, source_type="manual", source_id=f"seed-{m}")
        for i in range(8):
            led.reserve(f"rsv-mix-{i:03d}", ms[i % 5], 100)
    tills = [Till(db, f"s{i}", "g1") for i in range(4)]
    batches = []
    for k, t in enumerate(tills):
        envs = []
        for j in range(12):
            m = ms[(k + j) % 5]
            if j < 2:
                rid = f"rsv-mix-{k * 2 + j:03d}"
                holder = ms[(k * 2 + j) % 5]
                envs.append(
                    t.sale([line("P", 300)], member=holder, points_fen=100, reservation=rid)
                )
            else:
                envs.append(t.sale([line("A", 1000 + j)], member=m))
        envs.append(t.refund(envs[5]))
        batches.append(envs)

    def apply(i: int) -> object:
        if i < 4:
            return tills[i].send(*batches[i])
        with db.transaction() as s:
            led = Ledger(s)
            led.lock([ms[0]])
            return led.debit(ms[0], "adjust_out", 50, source_type="manual", source_id="fix")

    results = race(5, apply)
    assert not [r for r in results if isinstance(r, Exception)], results
    with db.transaction() as s:
        assert books.check_books(s) == []
        led = Ledger(s)
        led.lock(ms)
        total = sum(led.account(m).balance for m in ms)
        assert [led.account(m).held for m in ms] == [0] * 5  # every hold was spent
    # seeded 5 × 1000, 8 holds of 100 spent, 50 taken by hand; each store's ten 10-yuan sales
    # earn 10 points (one of them refunded), each points sale earns 2 on its 2 yuan of money
    expected = 5000 - 8 * 100 - 50 + 4 * 9 * 10 + 8 * 2
    assert total == expected
