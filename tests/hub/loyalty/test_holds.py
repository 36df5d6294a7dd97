"""Claims before grants at the hub's own level, under real concurrency (threads, each with its
connection and transaction) on SQLite and PostgreSQL: coupon holds (one winner, committed by
the sale that carries them, freed by release and by the timeout, never taken by a sale without
the hold) and points holds retried under one id."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.coupons import Policy
from hub.coupons import holds
from hub.coupons import service as coupons
from hub.coupons.models import Coupon, CouponHold, CouponTemplate
from hub.db import Database, utcnow
from hub.loyalty import books
from hub.loyalty.models import LoyaltyIssue
from hub.loyalty.service import Ledger
from hub.members.service import Members
from protocols.coupons import BasketLine
from rig.race import race
from tests.hub.till import Till, line, register

BASKET = [BasketLine(sku="A", total_fen=5000)]
S1 = holds.Caller("s1", "g1", "1")


def _coupon(db: Database, member: str | None) -> str:
    with db.transaction() as s:
        t = CouponTemplate(name="立减10元", kind="amount_off", amount_fen=1000, valid_days=7)
        s.add(t)
        s.flush()
        return coupons.issue(s, t.id, member).coupon.code


def _reserve(db: Database, rid: str, code: str, caller: holds.Caller = S1, ttl: int = 300) -> str:
    with db.transaction() as s:
        h = holds.reserve(
            s, rid, code, caller=caller, member_id=None, lines=BASKET, other_codes=[], ttl_s=ttl
        )
        return h.status


def _issues(db: Database, kind: str) -> list[str]:
    with db.transaction() as s:
        return list(s.scalars(select(LoyaltyIssue.source_id).where(LoyaltyIssue.kind == kind)))


def test_100_lanes_reserving_one_coupon_exactly_one_holds_it(db: Database):
    code = _coupon(db, None)
    callers = [holds.Caller(f"s{i % 3}", f"g{i % 4}", str(i)) for i in range(100)]
    results = race(100, lambda i: _reserve(db, f"hold-race-{i:03d}", code, callers[i]))
    won = [i for i, r in enumerate(results) if r == "held"]
    refused = [r for r in results if isinstance(r, coupons.CouponError)]
    assert len(won) == 1 and len(refused) == 99, [r for r in results if r != "held"][:3]
    with db.transaction() as s:
        c = s.get(Coupon, code)
        assert c is not None and c.hold_id == f"hold-race-{won[0]:03d}"
        live = s.scalars(select(CouponHold).where(CouponHold.status == "held")).all()
        assert [h.id for h in live] == [c.hold_id]


def test_retries_of_one_hold_id_at_once_are_one_hold(db: Database):
    code = _coupon(db, None)
    results = race(20, lambda i: _reserve(db, "hold-same-0001", code))
    assert results == ["held"] * 20, [r for r in results if r != "held"][:3]
    with db.transaction() as s:
        assert len(s.scalars(select(CouponHold)).all()) == 1


def test_the_sale_carrying_the_hold_commits_it_and_a_sale_without_it_cannot_take_it(
    db: Database, members: Members
):
    m = register(db, members, "13500135000")
    code = _coupon(db, m)
    with db.transaction() as s:
        holds.reserve(
            s,
            "hold-sale-0001",
            code,
            caller=S1,
            member_id=m,
            lines=BASKET,
            other_codes=[],
            ttl_s=300,
        )
    other, mine = Till(db, "s2"), Till(db, "s1")
    off = [{"code": code, "amount_fen": 1000}]
    thief = other.sale([line("A", 5000)], member=m, coupons=[code], discounts=off)
    other.send(thief)  # no hold: the coupon is claimed by a lane, so this use is the conflict
    sale = mine.sale([line("A", 5000)], member=m, coupons=[code], discounts=off)
    sale["body"]["coupon_holds"] = {code: "hold-sale-0001"}
    mine.send(sale)
    with db.transaction() as s:
        c = s.get(Coupon, code)
        h = s.get(CouponHold, "hold-sale-0001")
        assert c is not None and c.status == "redeemed" and c.redeemed_sale_id == sale["id"]
        assert c.hold_id is None and h is not None and h.status == "committed"
        assert h.sale_id == sale["id"]
    assert _issues(db, "coupon_conflict") == [thief["id"]]
    # a redelivery, and the lane's own commit call after it, change nothing
    with db.transaction() as s:
        assert holds.commit(s, "hold-sale-0001", sale["id"], S1).status == "committed"
    with db.transaction() as s, pytest.raises(coupons.CouponError, match="already used"):
        holds.release(s, "hold-sale-0001", S1)


def test_release_and_timeout_free_the_coupon(db: Database):
    code = _coupon(db, None)
    assert _reserve(db, "hold-rel-0001", code) == "held"
    s2 = holds.Caller("s2", "g1", "9")
    with pytest.raises(coupons.CouponError, match="claimed by another lane"):
        _reserve(db, "hold-rel-0002", code, s2)
    with db.transaction() as s, pytest.raises(holds.NotYourHold):
        holds.release(s, "hold-rel-0001", s2)  # only the holder's gateway releases it
    with db.transaction() as s:
        assert holds.release(s, "hold-rel-0001", S1).status == "released"
    assert _reserve(db, "hold-rel-0002", code, s2) == "held"
    # the timeout: past it, the job marks the hold expired and the coupon free
    later = utcnow() + timedelta(seconds=301)
    with db.transaction() as s:
        assert holds.expire(s, later) == 1
    with db.transaction() as s:
        c = s.get(Coupon, code)
        h = s.get(CouponHold, "hold-rel-0002")
        assert c is not None and c.hold_id is None and h is not None and h.status == "expired"
    # a hold that timed out while nobody else took the coupon is still honoured by its sale
    till = Till(db, "s2")
    sale = till.sale(
        [line("A", 5000)], coupons=[code], discounts=[{"code": code, "amount_fen": 1000}]
    )
    sale["body"]["coupon_holds"] = {code: "hold-rel-0002"}
    till.send(sale)
    with db.transaction() as s:
        h = s.get(CouponHold, "hold-rel-0002")
        assert h is not None and h.status == "committed" and h.sale_id == sale["id"]
    assert _issues(db, "coupon_conflict") == []


def test_offline_uses_are_reconciled_first_booked_wins(db: Database):
    code = _coupon(db, None)
    a, b = Till(db, "s1"), Till(db, "s2")
    off = [{"code": code, "amount_fen": 1000}]
    first = a.sale([line("A", 5000)], coupons=[code], discounts=off)
    second = b.sale([line("A", 5000)], coupons=[code], discounts=off)
    for t, e in ((a, first), (b, second)):
        e["body"]["coupons_offline"] = [code]
        e["body"]["coupon_holds"] = {code: f"offline-{e['id'][-8:]}"}  # never reached the hub
        t.send(e)
    with db.transaction() as s:
        c = s.get(Coupon, code)
        assert c is not None and c.redeemed_sale_id == first["id"]
    assert _issues(db, "coupon_offline_conflict") == [second["id"]]


def test_points_reserve_retried_at_once_under_one_id(db: Database, members: Members):
    m = register(db, members, "13500135001")
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        led.credit(m, "adjust_in", 1000, source_type="manual", source_id="seed")

    def reserve(i: int) -> tuple[str, int]:
        with db.transaction() as s:
            led = Ledger(s)
            r = led.reserve("rsv-one-id-0001", m, 300)
            return r.id, led.available(m)  # what the lane's RPC answers with

    results = race(20, reserve)
    assert results == [("rsv-one-id-0001", 700)] * 20, [
        r for r in results if not isinstance(r, tuple)
    ]
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        assert led.account(m).held == 300
        assert books.check_books(s) == []


def test_the_store_policy_for_offline_coupons_refuses_unless_it_plainly_allows(tmp_path: Path):
    assert Policy.load(tmp_path).offline == "refuse"  # no file
    path = tmp_path / "store-policy.toml"
    for text, want in (
        ('[coupons]\noffline = "allow"\n', "allow"),
        ('[coupons]\noffline = "yes"\n', "refuse"),
        ("[coupons\noffline = allow", "refuse"),  # not TOML
        ('[coupons]\noffline = "allow"\noffline_hold_s = "soon"\n', "refuse"),
    ):
        path.write_text(text)
        assert Policy.load(tmp_path).offline == want, text
