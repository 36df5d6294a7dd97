"""The loyalty bugs other chains' systems are known for, as regression tests through the real
ingest path (envelopes → Ingest.apply → sales books → loyalty), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.app import rpc_methods
from hub.coupons import service as coupons
from hub.coupons.models import Coupon, CouponTemplate
from hub.db import Database
from hub.loyalty import books
from hub.loyalty.models import LedgerEntry, LoyaltyIssue
from hub.loyalty.service import Ledger
from hub.mall import service as mall
from hub.mall.models import MallItem
from hub.members.overview import view360
from hub.members.service import Changes, Members
from hub.rpc import RpcServer
from protocols import rpc
from tests.hub.till import Till, line, register


def account(db: Database, member: str) -> tuple[int, int, int]:
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([member])
        a = led.account(member)
        return a.balance, a.held, a.debt


def entries(db: Database, **where: str) -> list[LedgerEntry]:
    with db.transaction() as s:
        q = select(LedgerEntry).order_by(LedgerEntry.posted_at, LedgerEntry.id)
        for k, v in where.items():
            q = q.where(getattr(LedgerEntry, k) == v)
        return list(s.scalars(q))


def balanced(db: Database) -> None:
    with db.transaction() as s:
        assert books.check_books(s) == []


def issues(db: Database, kind: str) -> list[LoyaltyIssue]:
    with db.transaction() as s:
        return list(s.scalars(select(LoyaltyIssue).where(LoyaltyIssue.kind == kind)))


# --- points not reversed on a refund -----------------------------------------------------------
def test_a_refund_reverses_the_points_its_sale_earned(db: Database, members: Members, till: Till):
    m = register(db, members, "13900000001")
    sale = till.sale([line("A", 10000)], member=m)
    till.send(sale)
    assert account(db, m)[0] == 100
    refund = till.refund(sale)
    till.send(refund)
    assert account(db, m) == (0, 0, 0)
    (rev,) = entries(db, kind="reverse_earn")
    assert rev.points == -100
    assert rev.sale_id == sale["id"] and rev.source_id == refund["id"]
    balanced(db)


def test_partial_refunds_reverse_in_proportion_and_exactly_in_total(
    db: Database, members: Members, till: Till
):
    m = register(db, members, "13900000002")
    sale = till.sale([line("A", 3000), line("B", 3000), line("C", 3333)], member=m)
    till.send(sale)
    earned = account(db, m)[0]
    assert earned == 93
    for amount in (3000, 3000, 3333):  # three partial refunds, the last completes it
        till.send(till.refund(sale, amount))
    revs = entries(db, kind="reverse_earn")
    assert [-e.points for e in revs] == [30, 30, 33]
    assert account(db, m)[0] == 0
    balanced(db)


def test_a_refund_that_overtakes_its_sale_is_applied_when_the_sale_arrives(
    db: Database, members: Members
):
    m = register(db, members, "13900000003")
    a, b = Till(db, "s1"), Till(db, "s2")
    sale = a.sale([line("A", 5000)], member=m)
    b.send(b.refund(sale))  # returned in store s2 before s1's sale reached the hub
    assert account(db, m)[0] == 0
    a.send(sale)
    assert account(db, m) == (0, 0, 0)
    assert len(entries(db, kind="earn")) == 1 and len(entries(db, kind="reverse_earn")) == 1
    balanced(db)


# --- a refund deducting points already spent a second time ---------------------------------------
def test_refund_of_a_sale_whose_points_were_spent_never_goes_negative(
    db: Database, members: Members, till: Till
):
    m = register(db, members, "13900000004")
    sale = till.sale([line("A", 10000)], member=m)
    till.send(sale)
    with db.transaction() as s:  # the 100 points are spent in the points mall
        s.add(MallItem(id=1, name="保温杯", kind="goods", points_price=100))
    with db.transaction() as s:
        mall.place(s, "order-0001", 1, m)
    assert account(db, m) == (0, 0, 0)
    refund = till.refund(sale)
    till.send(refund)
    till.send(refund)  # delivered again
    # the rule: take what is there (nothing), book the rest as debt — never below zero,
    # never taken twice, and said out loud
    assert account(db, m) == (0, 0, 100)
    assert len(issues(db, "points_shortfall")) == 1
    (rev,) = entries(db, kind="reverse_earn")
    assert rev.points == 0 and rev.debt_change == 100
    # the next earnings settle the debt before they count
    till.send(till.sale([line("B", 15000)], member=m))
    assert account(db, m) == (50, 0, 0)
    balanced(db)


def test_refund_of_a_sale_paid_with_points_gives_them_back_instead_of_deducting_again(
    db: Database, members: Members, till: Till
):
    m = register(db, members, "13900000005")
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        led.credit(m, "adjust_in", 2000, source_type="manual", source_id="welcome")
        led.reserve("resv-0000005", m, 2000)
    sale = till.sale([line("A", 10000)], member=m, points_fen=2000, reservation="resv-0000005")
    till.send(sale)
    assert account(db, m)[0] == 80  # 2000 spent, 80 earned on the 80 yuan paid in money
    till.send(till.refund(sale))
    # the points paid with come back, the points earned go: 0 + 2000
    assert account(db, m) == (2000, 0, 0)
    assert [e.points for e in entries(db, kind="refund_spend")] == [2000]
    balanced(db)


# --- points counted twice when an event is delivered twice --------------------------------------
def test_a_sale_delivered_twice_earns_once(db: Database, members: Members, till: Till):
    m = register(db, members, "13900000006")
    sale = till.sale([line("A", 10000)], member=m)
    till.send(sale)
    till.send(sale)  # a replay after a lost ack
    r = till.send(sale, sale)  # and twice in one batch
    assert r.duplicates == 2
    assert account(db, m)[0] == 100
    assert len(entries(db, kind="earn")) == 1
    balanced(db)


def test_the_same_event_under_a_new_seq_still_earns_once(db: Database, members: Members):
    m = register(db, members, "13900000007")
    till = Till(db)
    sale = till.sale([line("A", 10000)], member=m)
    till.send(sale)
    again = {**sale, "seq": till.seq + 1}  # a gateway restored from backup re-numbers it
    till.seq += 1
    till.send(again)
    assert account(db, m)[0] == 100
    assert len(entries(db, kind="earn")) == 1


# --- a coupon used twice -------------------------------------------------------------------------
def _coupon(db: Database, member: str | None = None) -> str:
    with db.transaction() as s:
        t = CouponTemplate(
            name="满100减20", kind="threshold", amount_fen=2000, threshold_fen=10000, valid_days=30
        )
        s.add(t)
        s.flush()
        return coupons.issue(s, t.id, member).coupon.code


def test_a_coupon_used_in_two_stores_is_consumed_once(db: Database, members: Members):
    m = register(db, members, "13900000008")
    code = _coupon(db, m)
    a, b = Till(db, "s1"), Till(db, "s2")
    off = [{"code": code, "amount_fen": 2000}]
    first = a.sale([line("A", 12000)], member=m, coupons=[code], discounts=off)
    second = b.sale([line("A", 12000)], member=m, coupons=[code], discounts=off)
    a.send(first)
    b.send(second)  # offline lane in s2 accepted it too
    with db.transaction() as s:
        c = s.get(Coupon, code)
        assert c is not None and c.status == "redeemed" and c.redeemed_sale_id == first["id"]
    (conflict,) = issues(db, "coupon_conflict")
    assert conflict.source_id == second["id"] and "already used" in conflict.detail
    a.send(first)  # and a redelivery of the first is no conflict at all
    assert len(issues(db, "coupon_conflict")) == 1


def test_a_refund_releases_the_coupon_its_sale_used(db: Database, members: Members, till: Till):
    m = register(db, members, "13900000009")
    code = _coupon(db, m)
    sale = till.sale(
        [line("A", 12000)], member=m, coupons=[code], discounts=[{"code": code, "amount_fen": 2000}]
    )
    till.send(sale)
    till.send(till.refund(sale, 5000))  # partial: the coupon stays used
    with db.transaction() as s:
        assert s.get(Coupon, code).status == "redeemed"  # type: ignore[union-attr]
    till.send(till.refund(sale, 5000))  # the rest: the coupon comes back
    with db.transaction() as s:
        assert s.get(Coupon, code).status == "issued"  # type: ignore[union-attr]
    till.send(
        till.sale(
            [line("B", 12000)],
            member=m,
            coupons=[code],
            discounts=[{"code": code, "amount_fen": 2000}],
        )
    )
    with db.transaction() as s:
        assert s.get(Coupon, code).status == "redeemed"  # type: ignore[union-attr]
    assert issues(db, "coupon_conflict") == []


# --- points redeemed in another store without being deducted ------------------------------------
def test_points_redeemed_in_another_store_are_deducted_exactly_once(db: Database, members: Members):
    m = register(db, members, "13900000010")
    a, b = Till(db, "s1", "g1"), Till(db, "s2", "g7")
    a.send(a.sale([line("A", 50000)], member=m))  # 500 points earned in s1
    server = RpcServer(db, rpc_methods(members))

    def call(method: str, params: dict) -> rpc.Reply:
        req = rpc.Request(id=f"c-{method}", method=method, params=params)  # type: ignore[arg-type]
        out = server.handle("s2", "g7", rpc.encode(req))
        assert out is not None
        return rpc.parse_reply(out)

    held = call("points.reserve", {"reservation_id": "rsv-s2-0001", "member_id": m, "points": 300})
    assert held.ok and held.result and held.result["available"] == 200
    # the lane in s2 takes 300 points as 3 yuan and journals the sale with the reservation
    sale = b.sale([line("X", 1000)], member=m, points_fen=300, reservation="rsv-s2-0001")
    b.send(sale)
    assert account(db, m) == (500 - 300 + 7, 0, 0)
    # the lane's own commit arrives after the sale: the same spend, not a second one
    again = call("points.commit", {"reservation_id": "rsv-s2-0001", "sale_id": sale["id"]})
    assert again.ok and again.result and again.result["status"] == "committed"
    b.send(sale)
    assert account(db, m) == (207, 0, 0)
    (spend,) = entries(db, kind="spend")
    assert spend.points == -300 and spend.store_id == "s2" and spend.sale_id == sale["id"]
    balanced(db)


def test_points_held_by_a_lane_whose_commit_was_lost_are_still_deducted(
    db: Database, members: Members
):
    m = register(db, members, "13900000011")
    a = Till(db, "s1")
    a.send(a.sale([line("A", 50000)], member=m))
    with db.transaction() as s:
        Ledger(s).reserve("rsv-lost-001", m, 400, ttl_s=1)
    with db.transaction() as s:  # the hold times out while the store is offline
        assert books.release_expired_reservations(s, datetime.now(UTC) + timedelta(seconds=5))
    assert account(db, m) == (500, 0, 0)
    a.send(a.sale([line("X", 400)], member=m, points_fen=400, reservation="rsv-lost-001"))
    assert account(db, m)[0] == 100
    balanced(db)


def test_a_late_commit_finding_the_points_gone_books_debt_not_a_negative_balance(
    db: Database, members: Members
):
    m = register(db, members, "13900000012")
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        led.credit(m, "adjust_in", 300, source_type="manual", source_id="g")
        led.reserve("rsv-late-001", m, 300)
        led.release("rsv-late-001", "expired")
        led.debit(m, "adjust_out", 250, source_type="manual", source_id="spent elsewhere")
    till = Till(db)
    till.send(till.sale([line("X", 300)], member=m, points_fen=300, reservation="rsv-late-001"))
    assert account(db, m) == (0, 0, 250)
    assert len(issues(db, "points_shortfall")) == 1
    balanced(db)


# --- a merged member losing history ---------------------------------------------------------
def test_a_merged_member_keeps_all_history(db: Database, members: Members):
    old = register(db, members, "13900000013", name="王芳")
    dup = register(db, members, "13900000099", name="王芳 (小程序)", channel="mini_program")
    a, b = Till(db, "s1"), Till(db, "s2")
    sale_old = a.sale([line("A", 10000)], member=old)
    sale_dup = b.sale([line("B", 20000)], member=dup)
    a.send(sale_old)
    b.send(sale_dup)
    code = _coupon(db, dup)
    with db.transaction() as s:  # the mini-program profile adds the same phone: merged
        survivor = members.update(s, dup, Changes(phone="13900000013"))
        assert survivor.id == old
    assert account(db, old) == (300, 0, 0)
    assert account(db, dup) == (0, 0, 0)
    with db.transaction() as s:
        v = view360(members, s, dup)  # asking by the old id lands on the survivor
    assert v["member"]["id"] == old and v["merged_from"] == [dup]
    assert v["purchases"]["sales"] == 2
    assert {x["store"] for x in v["purchases"]["by_store"]} == {"s1", "s2"}
    assert [c["code"] for c in v["coupons"]["usable"]] == [code]
    kinds = [e["kind"] for e in v["points"]["recent"]]
    assert kinds.count("earn") == 2 and "merge_in" in kinds and "merge_out" in kinds
    # an event still naming the absorbed profile lands on the survivor, and so does its refund
    c = Till(db, "s3")
    late = c.sale([line("C", 5000)], member=dup)
    c.send(late)
    assert account(db, old)[0] == 350
    b.send(b.refund(sale_dup))
    assert account(db, old)[0] == 150
    with db.transaction() as s:
        hist = members.history(s, old)
    assert {"merged_in", "merged_out", "registered"} <= {h["kind"] for h in hist}
    balanced(db)
