"""The lane's `coupon.reserve` answers the coupon's terms and name with the hold, so the lane's
basket prices the coupon with exactly the terms the hub's recompute uses (hub/pricing)."""

from __future__ import annotations

import msgspec

from hub.coupons import rpc
from hub.coupons import service as coupons
from hub.coupons.models import CouponTemplate
from hub.db import Database
from hub.rpc import Caller
from protocols import rpc as contract
from protocols.coupons import Terms


def test_reserve_answers_the_hold_with_the_terms_the_hub_prices_with(db: Database):
    with db.transaction() as s:
        t = CouponTemplate(name="满50减8", kind="threshold", amount_fen=800, threshold_fen=5000,
                           valid_days=7, categories=["grain"], stackable=True)  # fmt: skip
        s.add(t)
        s.flush()
        code = coupons.issue(s, t.id, None).coupon.code
    params = msgspec.convert(
        {
            "code": code,
            "reservation_id": "hold-terms-0001",
            "lines": [{"sku": "rice", "category": "grain", "total_fen": 6000}],
        },
        contract.CouponReserve,
    )
    with db.transaction() as s:
        got = rpc.reserve(s, params, Caller("s1", "g1", "1"))
    assert got["status"] == "held" and got["discount_fen"] == 800
    assert got["name"] == "满50减8"
    with db.transaction() as s:
        hub_terms = coupons.terms(*coupons.load(s, code))
    assert msgspec.convert(got["terms"], Terms) == hub_terms
    assert hub_terms.categories == ["grain"] and hub_terms.stackable
