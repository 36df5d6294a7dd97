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

import msgspec
from msgspec import Meta

from protocols.coupons import BasketLine
from protocols.strict import Invalid as Invalid  # callers catch rpc.Invalid
from protocols.strict import convert, decode
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
    "sale.lookup",  # another store's sale, for a return at this lane (the returns screen)
    "ping",  # the admin pages' network check: a round trip through the broker and the hub
    "stock.levels",
    "pickup.complete",
    "members.cache_key",  # the store's key for the pushed members' hashes (members_push.py)
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


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class Request(_Strict, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]
    method: Method
    params: dict[str, Any] = {}
    deadline: datetime | None = None
    lane: str | None = None


class Reply(_Strict, kw_only=True):
    id: str
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None
    status: int = 200  # an HTTP-like status for the lane to pass on (404, 409, 422 …)


# --- params of each method ------------------------------------------------------------------
class MemberLookup(_Strict, kw_only=True):
    phone: str | None = None
    card_no: str | None = None
    member_id: str | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.phone, self.card_no, self.member_id)) != 1:
            raise ValueError("give exactly one of phone, card_no, member_id")


class MemberRegister(_Strict, kw_only=True):
    phone: str
    name: str | None = None
    birthday: date | None = None
    marketing_consent: bool = False


class CouponCheck(_Strict, kw_only=True):
    code: str
    member_id: str | None = None
    lines: list[BasketLine] = []
    other_codes: list[str] = []  # coupons already in the basket, for the stacking rules


HoldId = Annotated[str, Meta(min_length=8, max_length=36)]


class CouponReserve(CouponCheck, kw_only=True):
    """Claim the coupon for this lane's basket before granting it (check + hold, atomically)."""

    reservation_id: HoldId
    ttl_s: Annotated[int, Meta(gt=0, le=3600)] | None = None


class CouponSettle(_Strict, kw_only=True):
    reservation_id: HoldId
    sale_id: Annotated[str, Meta(min_length=1, max_length=64)] | None = None


class PointsReserve(_Strict, kw_only=True):
    reservation_id: Annotated[str, Meta(min_length=8, max_length=36)]
    member_id: str
    points: Annotated[int, Meta(gt=0)]
    ttl_s: Annotated[int, Meta(gt=0, le=3600)] | None = None


class PointsSettle(_Strict, kw_only=True):
    reservation_id: str
    sale_id: str | None = None


class RefundLineParams(_Strict, kw_only=True):
    sku: Annotated[str, Meta(min_length=1, max_length=200)]
    qty_milli: Annotated[int, Meta(gt=0)]
    amount_fen: Annotated[int, Meta(ge=0)]
    line: Annotated[int, Meta(ge=1)] | None = None


class RefundClaim(_Strict, kw_only=True):
    """Reserve part of a sale for a refund about to be paid out: the hub answers what is
    still refundable and holds this much until the refund (carrying `claim_id`) is booked,
    released, or the hold times out."""

    claim_id: Annotated[str, Meta(min_length=8, max_length=36)]
    sale_id: Annotated[str, Meta(min_length=1, max_length=36)]
    lines: Annotated[list[RefundLineParams], Meta(min_length=1, max_length=500)]
    ttl_s: Annotated[int, Meta(gt=0, le=86400)] | None = None


class RefundRelease(_Strict, kw_only=True):
    claim_id: Annotated[str, Meta(min_length=8, max_length=36)]


class SaleLookup(_Strict, kw_only=True):
    """A sale of any store of the chain, by its id (the UUID on the receipt), with what is
    left to return of it: the hub checks the id and answers 404 for a sale it does not have."""

    sale_id: Annotated[str, Meta(min_length=1, max_length=64)]


class Ping(_Strict, kw_only=True):
    """No parameters: the answer is the proof."""


class StockLevels(_Strict, kw_only=True):
    """The calling store's own stock: the SKUs named, or every SKU it has a balance for."""

    skus: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=200)]], Meta(max_length=500)
    ] = []


class PickupComplete(_Strict, kw_only=True):
    """The lane hands an online order over in its store: its held goods leave the stock."""

    order_id: Annotated[str, Meta(min_length=1, max_length=36)]


class CacheKey(_Strict, kw_only=True):
    """No parameters: the key is the calling store's (from the topic)."""


def parse_request(payload: bytes) -> Request:
    """A request as it arrives, or Invalid saying why."""
    return decode(payload, Request)


def parse_reply(payload: bytes) -> Reply:
    return decode(payload, Reply)


def encode(message: Request | Reply) -> bytes:
    return msgspec.json.encode(message)


def check_params(method: str, params: dict[str, Any]) -> _Strict:
    """A method's parameters checked by its type, or Invalid (`loc` within the params)."""
    return convert(params, PARAMS[method])


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
    "sale.lookup": SaleLookup,
    "ping": Ping,
    "stock.levels": StockLevels,
    "pickup.complete": PickupComplete,
    "members.cache_key": CacheKey,
}
