"""Domain errors know nothing of HTTP; hub/http_errors.py gives each class its status once, for
the API and for the lanes' RPC replies alike."""

from __future__ import annotations

from hub import http_errors
from hub.coupons.holds import HoldNotFound, NotYourHold
from hub.coupons.service import CouponError
from hub.loyalty.service import InsufficientPoints
from hub.mall.service import SoldOut
from hub.members.service import MemberNotFound
from hub.sales.refunds import RefundInvalid, SaleNotHere
from hub.stores.service import StoreNotFound


def test_no_domain_error_carries_an_http_status() -> None:
    for cls in http_errors.STATUS:
        assert not hasattr(cls, "status"), f"{cls.__qualname__} carries a status"
        assert not hasattr(cls, "status_code"), f"{cls.__qualname__} carries a status"


def test_each_error_answers_its_own_status_or_its_nearest_base() -> None:
    assert http_errors.status_of(MemberNotFound("no member x")) == 404
    assert http_errors.status_of(CouponError("used")) == 409
    assert http_errors.status_of(HoldNotFound("no hold")) == 404  # a CouponNotFound
    assert http_errors.status_of(NotYourHold("another gateway's")) == 403
    assert http_errors.status_of(InsufficientPoints(10, 3)) == 409  # a PointsError
    assert http_errors.status_of(SoldOut("gone")) == 409
    assert http_errors.status_of(SaleNotHere("not yet")) == 404
    assert http_errors.status_of(RefundInvalid("no such SKU")) == 422
    assert http_errors.status_of(StoreNotFound("no store")) == 404
    assert http_errors.status_of(RuntimeError("a bug")) is None  # answered as a 500
