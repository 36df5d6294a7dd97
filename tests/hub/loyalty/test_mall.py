"""The points mall: goods, services and partner perks with stock and per-member limits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.coupons.models import Coupon, CouponTemplate
from hub.db import Database
from hub.loyalty import books, mall
from hub.loyalty import service as points
from hub.loyalty.models import LedgerEntry, MallItem
from hub.loyalty.service import InsufficientPoints, Ledger
from hub.members.service import Members
from tests.hub.till import register


def funded(db: Database, members: Members, phone: str, pts: int) -> str:
    m = register(db, members, phone)
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        led.credit(m, "adjust_in", pts, source_type="manual", source_id=f"seed-{phone}")
    return m


def test_an_order_spends_points_takes_stock_and_is_idempotent(db: Database, members: Members):
    m = funded(db, members, "18800188000", 1000)
    with db.transaction() as s:
        s.add(MallItem(id=1, name="保温杯", kind="goods", points_price=400, stock=2))
    with db.transaction() as s:
        first = mall.place(s, "ord-00000001", 1, m)
    with db.transaction() as s:
        again = mall.place(s, "ord-00000001", 1, m)  # the app retried
        assert again.id == first.id
        item = s.get(MallItem, 1)
        assert item is not None and item.stock == 1
        spends = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "mall")).all()
        assert [e.points for e in spends] == [-400]


def test_not_enough_points_and_sold_out_are_refused(db: Database, members: Members):
    m = funded(db, members, "18800188001", 500)
    with db.transaction() as s:
        s.add_all(
            [
                MallItem(id=1, name="电饭煲", kind="goods", points_price=5000),
                MallItem(id=2, name="洗车", kind="service", points_price=100, stock=0),
            ]
        )
    with pytest.raises(InsufficientPoints), db.transaction() as s:
        mall.place(s, "ord-00000002", 1, m)
    with pytest.raises(mall.SoldOut), db.transaction() as s:
        mall.place(s, "ord-00000003", 2, m)
    with db.transaction() as s:
        assert books.check_books(s) == []


def test_cancel_gives_points_and_stock_back_once(db: Database, members: Members):
    m = funded(db, members, "18800188002", 1000)
    with db.transaction() as s:
        s.add(MallItem(id=1, name="洗车", kind="service", points_price=300, stock=5))
    with db.transaction() as s:
        o = mall.place(s, "ord-00000004", 1, m)
        assert o.voucher and o.voucher.startswith("V")
    for _ in range(2):
        with db.transaction() as s:
            assert mall.cancel(s, "ord-00000004").status == "cancelled"
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        assert led.account(m).balance == 1000
        item = s.get(MallItem, 1)
        assert item is not None and item.stock == 5
        assert books.check_books(s) == []


def test_a_partner_perk_can_be_a_coupon(db: Database, members: Members):
    m = funded(db, members, "18800188003", 1000)
    with db.transaction() as s:
        s.add(CouponTemplate(id=9, name="咖啡券", kind="gift", gift_sku="COFFEE", valid_days=14))
        s.add(
            MallItem(
                id=1,
                name="星巴克咖啡",
                kind="perk",
                partner="星巴克",
                points_price=200,
                coupon_template_id=9,
                per_member_limit=1,
            )
        )
    with db.transaction() as s:
        o = mall.place(s, "ord-00000005", 1, m)
        c = s.get(Coupon, o.coupon_code)
        assert c is not None and c.member_id == m and c.issue_source == "mall"
    with pytest.raises(points.PointsError, match="limit of 1"), db.transaction() as s:
        mall.place(s, "ord-00000006", 1, m)
    with db.transaction() as s:
        mall.cancel(s, "ord-00000005")
        c = s.get(Coupon, o.coupon_code, populate_existing=True)
        assert c is not None and c.status == "void"
