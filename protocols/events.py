"""Event bodies, one schema per (type, version). Money is strict integer fen; quantities are
milli-units (1 piece = 1000, weighed goods in grams). The sums are checked here so the hub
refuses a sale whose arithmetic does not add up instead of booking it.

msgspec rather than pydantic: the hub decodes and checks every event of every store, and
msgspec does it straight from the JSON bytes about twenty times faster (bench/hub_apply.py).
Its defaults are the strictness money needs: a float, a bool or a numeric string is not an int,
and unknown fields are refused."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from protocols import pricing

Fen = Annotated[int, msgspec.Meta(ge=0)]
PositiveFen = Annotated[int, msgspec.Meta(gt=0)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Tender = Literal["cash", "card", "wechat", "alipay", "unionpay", "points", "coupon", "other"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    pass


class Line(_Strict):
    sku: Text
    name: Text
    qty_milli: Annotated[int, msgspec.Meta(gt=0, le=10_000_000)]
    unit_price_fen: Fen
    total_fen: Fen
    discount_fen: Fen = 0
    weighed: bool = False
    category: str | None = None

    def __post_init__(self) -> None:
        gross = pricing.extend(self.qty_milli, self.unit_price_fen)
        if self.discount_fen > gross:
            raise ValueError(f"line {self.sku}: discount {self.discount_fen} exceeds {gross}")
        if self.total_fen != gross - self.discount_fen:
            raise ValueError(
                f"line {self.sku}: total_fen {self.total_fen} != {gross} - {self.discount_fen}"
            )


class Discount(_Strict):
    code: Text
    amount_fen: PositiveFen
    description: str = ""


class Payment(_Strict):
    tender: Tender
    amount_fen: PositiveFen
    ref: str | None = None


class MemberSummary(_Strict):
    name: str | None = None
    tier: str | None = None
    points_earned: int | None = None
    points_balance: int | None = None


class SaleCompleted(_Strict):
    sale_id: str
    lane: Text
    cashier: Text
    receipt_no: Text
    business_day: date
    lines: Annotated[list[Line], msgspec.Meta(min_length=1, max_length=500)]
    total_fen: Fen
    payments: Annotated[list[Payment], msgspec.Meta(min_length=1, max_length=20)]
    discounts: list[Discount] = []
    change_fen: Fen = 0
    member_id: str | None = None
    member: MemberSummary | None = None
    coupons: list[str] = []
    # points paid with: the hub reservation they were held under (the hub deducts them once)
    points_reservation: str | None = None
    # coupons the lane claimed before granting them: code → its hub hold (the hub commits it)
    coupon_holds: dict[str, str] = {}
    # coupons granted while the hub was unreachable, by store policy (the hub reconciles)
    coupons_offline: list[str] = []

    def __post_init__(self) -> None:
        goods = sum(line.total_fen for line in self.lines)
        off = sum(d.amount_fen for d in self.discounts)
        if self.total_fen != goods - off:
            raise ValueError(f"total_fen {self.total_fen} != lines {goods} - discounts {off}")
        paid = sum(p.amount_fen for p in self.payments)
        if paid - self.change_fen != self.total_fen:
            raise ValueError(
                f"payments {paid} - change {self.change_fen} != total {self.total_fen}"
            )
        cash = sum(p.amount_fen for p in self.payments if p.tender == "cash")
        if self.change_fen > cash:
            raise ValueError("change is given only from cash")


class RefundLine(_Strict):
    sku: Text
    qty_milli: Annotated[int, msgspec.Meta(gt=0)]
    amount_fen: Fen
    line: Annotated[int, msgspec.Meta(ge=1)] | None = None  # the sale's line (1-based), if named


class SaleRefunded(_Strict):
    refund_id: str
    sale_id: str  # the original sale (its event id), possibly from another store
    lane: Text
    cashier: Text
    lines: Annotated[list[RefundLine], msgspec.Meta(min_length=1)]
    total_fen: PositiveFen
    payments: Annotated[list[Payment], msgspec.Meta(min_length=1)]
    reason: str = ""
    claim_id: str | None = None  # what the hub reserved for it online (protocols/rpc.py)

    def __post_init__(self) -> None:
        if sum(x.amount_fen for x in self.lines) != self.total_fen:
            raise ValueError("refund total_fen is not the sum of its lines")
        if sum(p.amount_fen for p in self.payments) != self.total_fen:
            raise ValueError("refund payments do not add up to total_fen")


class TenderCount(_Strict):
    tender: Tender
    expected_fen: Fen
    counted_fen: Fen | None = None


class ShiftClosed(_Strict):
    shift_id: str
    lane: Text
    cashier: Text
    opened_at: datetime
    closed_at: datetime
    sales_count: Annotated[int, msgspec.Meta(ge=0)]
    sales_fen: Fen
    refunds_fen: Fen = 0
    tenders: list[TenderCount] = []

    def __post_init__(self) -> None:
        for ts in (self.opened_at, self.closed_at):
            if ts.tzinfo is None:
                raise ValueError("shift times must carry a UTC offset")


SCHEMAS: dict[tuple[str, int], type[msgspec.Struct]] = {
    ("sale.completed", 1): SaleCompleted,
    ("sale.refunded", 1): SaleRefunded,
    ("shift.closed", 1): ShiftClosed,
}


class BodyError(ValueError):
    """A body does not fit its schema; the message says where and why."""


def check_body(type_: str, version: int, body: Any) -> dict[str, Any]:
    """Validate a body given as Python data; return it as JSON-ready builtins with defaults
    filled in (what the journal stores and the hub's handlers read)."""
    schema = SCHEMAS.get((type_, version))
    if schema is None:
        raise BodyError(f"unknown event type {type_!r} v{version}")
    try:
        return msgspec.to_builtins(msgspec.convert(body, schema))
    except msgspec.ValidationError as err:
        raise BodyError(str(err)) from None
