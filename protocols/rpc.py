"""Online calls from a lane to the hub, as request/response over MQTT with correlation ids, so a
store needs only its one outbound connection.

edge → hub  storegw/v1/{store}/{gateway}/rpc/request   {"id", "method", "params", "deadline"}
hub → edge  storegw/v1/{store}/{gateway}/rpc/reply     {"id", "ok", "result" | "error"}

The caller's store and gateway are the topic's (the broker's ACL lets a gateway publish only on
its own topics). The hub ignores a request past its deadline: the lane has given up on it.
Every method is safe to repeat: a points reservation and a coupon hold carry their id from the
edge, so a retry after a lost answer gets the same hold."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols.coupons import BasketLine
from protocols.topics import ROOT, TopicError, check_id

REQUESTS_ALL = f"{ROOT}/+/+/rpc/request"

Method = Literal[
    "member.lookup",
    "member.register",
    "coupon.check",
    "coupon.reserve",
    "coupon.commit",
    "coupon.release",
    "points.reserve",
    "points.commit",
    "points.release",
    "refund.claim",
    "refund.release",
    "stock.levels",
    "pickup.complete",
]


def request_topic(store: str, gateway: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/{check_id(gateway, 'gateway')}/rpc/request"


def reply_topic(store: str, gateway: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/{check_id(gateway, 'gateway')}/rpc/reply"


def caller(topic: str) -> tuple[str, str]:
    """(store, gateway) of a request topic."""
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != ROOT or parts[4:] != ["rpc", "request"]:
        raise TopicError(f"not an RPC request topic: {topic!r}")
    return check_id(parts[2], "store"), check_id(parts[3], "gateway")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Request(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    method: Method
    params: dict[str, Any] = {}
    deadline: datetime | None = None
    lane: str | None = None


class Reply(_Strict):
    id: str
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None
    status: int = 200  # an HTTP-like status for the lane to pass on (404, 409, 422 …)


# --- params of each method ------------------------------------------------------------------
class MemberLookup(_Strict):
    phone: str | None = None
    card_no: str | None = None
    member_id: str | None = None

    @model_validator(mode="after")
    def _one(self) -> MemberLookup:
        if sum(x is not None for x in (self.phone, self.card_no, self.member_id)) != 1:
            raise ValueError("give exactly one of phone, card_no, member_id")
        return self


class MemberRegister(_Strict):
    phone: str
    name: str | None = None
    birthday: date | None = None
    marketing_consent: bool = False


class CouponCheck(_Strict):
    code: str
    member_id: str | None = None
    lines: list[BasketLine] = []
    other_codes: list[str] = []  # coupons already in the basket, for the stacking rules


HoldId = Annotated[str, Field(min_length=8, max_length=36)]


class CouponReserve(CouponCheck):
    """Claim the coupon for this lane's basket before granting it (check + hold, atomically)."""

    reservation_id: HoldId
    ttl_s: Annotated[int, Field(strict=True, gt=0, le=3600)] | None = None


class CouponSettle(_Strict):
    reservation_id: HoldId
    sale_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class PointsReserve(_Strict):
    reservation_id: Annotated[str, Field(min_length=8, max_length=36)]
    member_id: str
    points: Annotated[int, Field(strict=True, gt=0)]
    ttl_s: Annotated[int, Field(strict=True, gt=0, le=3600)] | None = None


class PointsSettle(_Strict):
    reservation_id: str
    sale_id: str | None = None


class RefundLineParams(_Strict):
    sku: Annotated[str, Field(min_length=1, max_length=200)]
    qty_milli: Annotated[int, Field(strict=True, gt=0)]
    amount_fen: Annotated[int, Field(strict=True, ge=0)]
    line: Annotated[int, Field(strict=True, ge=1)] | None = None


class RefundClaim(_Strict):
    """Reserve part of a sale for a refund about to be paid out: the hub answers what is
    still refundable and holds this much until the refund (carrying `claim_id`) is booked,
    released, or the hold times out."""

    claim_id: Annotated[str, Field(min_length=8, max_length=36)]
    sale_id: Annotated[str, Field(min_length=1, max_length=36)]
    lines: Annotated[list[RefundLineParams], Field(min_length=1, max_length=500)]
    ttl_s: Annotated[int, Field(strict=True, gt=0, le=86400)] | None = None


class RefundRelease(_Strict):
    claim_id: Annotated[str, Field(min_length=8, max_length=36)]


class StockLevels(_Strict):
    """The calling store's own stock: the SKUs named, or every SKU it has a balance for."""

    skus: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=500)
    ] = []


class PickupComplete(_Strict):
    """The lane hands an online order over in its store: its held goods leave the stock."""

    order_id: Annotated[str, Field(min_length=1, max_length=36)]


PARAMS: dict[str, type[_Strict]] = {
    "member.lookup": MemberLookup,
    "member.register": MemberRegister,
    "coupon.check": CouponCheck,
    "coupon.reserve": CouponReserve,
    "coupon.commit": CouponSettle,
    "coupon.release": CouponSettle,
    "points.reserve": PointsReserve,
    "points.commit": PointsSettle,
    "points.release": PointsSettle,
    "refund.claim": RefundClaim,
    "refund.release": RefundRelease,
    "stock.levels": StockLevels,
    "pickup.complete": PickupComplete,
}
