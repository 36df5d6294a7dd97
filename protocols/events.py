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

from protocols import bounds, pricing

Fen = Annotated[int, msgspec.Meta(ge=0, le=bounds.MAX_FEN)]
PositiveFen = Annotated[int, msgspec.Meta(gt=0, le=bounds.MAX_FEN)]
Count = Annotated[int, msgspec.Meta(ge=0, le=bounds.MAX_COUNT)]
Points = Annotated[int, msgspec.Meta(ge=-bounds.MAX_POINTS, le=bounds.MAX_POINTS)]
QtyMilli = Annotated[int, msgspec.Meta(gt=0, le=bounds.MAX_QTY_MILLI)]
# every text is bounded by its column; control characters are refused by check_body/_body
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=bounds.TEXT_LEN)]
OptText = Annotated[str, msgspec.Meta(max_length=bounds.TEXT_LEN)]
Uuid = Annotated[str, msgspec.Meta(min_length=1, max_length=bounds.UUID_LEN)]
Coupon = Annotated[str, msgspec.Meta(min_length=1, max_length=bounds.COUPON_LEN)]
Reason = Annotated[str, msgspec.Meta(max_length=bounds.REASON_LEN)]
Tender = Literal["cash", "card", "wechat", "alipay", "unionpay", "points", "coupon", "other"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    pass


class Line(_Strict):
    sku: Text
    name: Text
    qty_milli: QtyMilli
    unit_price_fen: Fen
    total_fen: Fen
    discount_fen: Fen = 0
    weighed: bool = False
    category: Text | None = None
    cost_fen: Fen | None = None  # per unit, as the lane priced with it (the margin floor)

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
    description: OptText = ""


class Payment(_Strict):
    tender: Tender
    amount_fen: PositiveFen
    ref: Text | None = None


class MemberSummary(_Strict):
    name: Annotated[str, msgspec.Meta(max_length=bounds.MEMBER_NAME_LEN)] | None = None
    tier: Annotated[str, msgspec.Meta(max_length=bounds.ID_LEN)] | None = None
    points_earned: Points | None = None
    points_balance: Points | None = None


class Saved(_Strict):
    """One saving on the receipt, as the pricing engine gave it (protocols.pricing.Saving)."""

    kind: Text
    ref: Text
    saved_fen: Fen
    name: OptText = ""


class PricedWith(_Strict):
    """How the lane priced the sale: the engine's inputs beyond the lines and coupons, and
    the savings it gave. The hub recomputes the sale from these (hub/pricing) and flags any
    difference; a sale without them is recomputed with the hub's current promotions."""

    promotions_version: Annotated[int, msgspec.Meta(ge=1, le=bounds.MAX_COUNT)] | None = None
    at: datetime | None = None  # the pricing time (default: the event's occurred_at)
    tier: Annotated[str, msgspec.Meta(max_length=bounds.ID_LEN)] | None = None
    tier_discount_pct: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100
    member_prices: Annotated[dict[Text, Fen], msgspec.Meta(max_length=bounds.MAX_LINES)] = {}
    min_margin_bp: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    override: bool = False  # a manager let lines go below the margin floor
    # who allowed it (the gateway's manager account), when, and the lines (1-based) the
    # floor held when they did
    override_by: Annotated[str, msgspec.Meta(min_length=1, max_length=bounds.ID_LEN)] | None = None
    override_at: datetime | None = None
    override_lines: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=bounds.MAX_LINES)]],
        msgspec.Meta(max_length=bounds.MAX_LINES),
    ] = []
    savings: Annotated[list[Saved], msgspec.Meta(max_length=bounds.MAX_DISCOUNTS)] = []

    def __post_init__(self) -> None:
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("pricing.at must carry a UTC offset")
        if self.override_at is not None and self.override_at.tzinfo is None:
            raise ValueError("pricing.override_at must carry a UTC offset")


class SaleCompleted(_Strict):
    sale_id: Uuid
    lane: Text
    cashier: Text
    receipt_no: Text
    business_day: date
    lines: Annotated[list[Line], msgspec.Meta(min_length=1, max_length=bounds.MAX_LINES)]
    total_fen: Fen
    # none only for a basket promotions and coupons made free (the check below: paid == total)
    payments: Annotated[list[Payment], msgspec.Meta(max_length=bounds.MAX_PAYMENTS)]
    discounts: Annotated[list[Discount], msgspec.Meta(max_length=bounds.MAX_DISCOUNTS)] = []
    change_fen: Fen = 0
    member_id: Uuid | None = None
    member: MemberSummary | None = None
    coupons: Annotated[list[Coupon], msgspec.Meta(max_length=bounds.MAX_COUPONS)] = []
    # points paid with: the hub reservation they were held under (the hub deducts them once)
    points_reservation: Uuid | None = None
    # coupons the lane claimed before granting them: code → its hub hold (the hub commits it)
    coupon_holds: Annotated[dict[Coupon, Uuid], msgspec.Meta(max_length=bounds.MAX_COUPONS)] = {}
    # coupons granted while the hub was unreachable, by store policy (the hub reconciles)
    coupons_offline: Annotated[list[Coupon], msgspec.Meta(max_length=bounds.MAX_COUPONS)] = []
    pricing: PricedWith | None = None  # optional: lanes before the pricing engine omit it

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
    qty_milli: QtyMilli
    amount_fen: Fen
    # the sale's line (1-based), if named
    line: Annotated[int, msgspec.Meta(ge=1, le=bounds.MAX_LINES)] | None = None


class SaleRefunded(_Strict):
    refund_id: Uuid
    sale_id: Uuid  # the original sale (its event id), possibly from another store
    lane: Text
    cashier: Text
    lines: Annotated[list[RefundLine], msgspec.Meta(min_length=1, max_length=bounds.MAX_LINES)]
    total_fen: PositiveFen
    payments: Annotated[list[Payment], msgspec.Meta(min_length=1, max_length=bounds.MAX_PAYMENTS)]
    reason: Reason = ""
    claim_id: Uuid | None = None  # what the hub reserved for it online (protocols/rpc.py)

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
    shift_id: Text
    lane: Text
    cashier: Text
    opened_at: datetime
    closed_at: datetime
    sales_count: Count
    sales_fen: Fen
    refunds_fen: Fen = 0
    tenders: Annotated[list[TenderCount], msgspec.Meta(max_length=bounds.MAX_TENDERS)] = []

    def __post_init__(self) -> None:
        for ts in (self.opened_at, self.closed_at):
            if ts.tzinfo is None:
                raise ValueError("shift times must carry a UTC offset")


# --- stock (hub/stock, hub/purchasing): what a store counted and what it took in ---------------
CountMilli = Annotated[int, msgspec.Meta(ge=0, le=bounds.MAX_QTY_MILLI)]


def _one_line_per_sku(lines: list[Any]) -> None:
    seen: set[str] = set()
    for x in lines:
        if x.sku in seen:
            raise ValueError(f"sku {x.sku} is listed twice")
        seen.add(x.sku)


class CountedLine(_Strict):
    sku: Text
    counted_milli: CountMilli  # what is on the shelf and in the back room (grams if weighed)


class StockCounted(_Strict):
    """A stocktake: each listed SKU's on-hand becomes what was counted (SKUs not listed keep
    theirs); the difference is booked as a stocktake move and kept in a variance report."""

    count_id: Uuid
    counted_by: Text
    lines: Annotated[list[CountedLine], msgspec.Meta(min_length=1, max_length=bounds.MAX_LINES)]
    note: Reason = ""

    def __post_init__(self) -> None:
        _one_line_per_sku(self.lines)


class ReceivedLine(_Strict):
    sku: Text
    qty_milli: CountMilli  # accepted into stock
    damaged_milli: CountMilli = 0  # delivered but refused (recorded as a discrepancy)
    unit_cost_fen: Fen | None = None  # per piece / per kg; the PO's cost when absent


class StockReceived(_Strict):
    """Goods taken in at the back door, against a purchase order (`po_id`) or without one."""

    receipt_id: Uuid
    received_by: Text
    lines: Annotated[list[ReceivedLine], msgspec.Meta(min_length=1, max_length=bounds.MAX_LINES)]
    po_id: Uuid | None = None
    note: Reason = ""

    def __post_init__(self) -> None:
        _one_line_per_sku(self.lines)


SCHEMAS: dict[tuple[str, int], type[msgspec.Struct]] = {
    ("sale.completed", 1): SaleCompleted,
    ("sale.refunded", 1): SaleRefunded,
    ("shift.closed", 1): ShiftClosed,
    ("stock.counted", 1): StockCounted,
    ("stock.received", 1): StockReceived,
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
        plain: dict[str, Any] = msgspec.to_builtins(msgspec.convert(body, schema))
    except msgspec.ValidationError as err:
        raise BodyError(str(err)) from None
    if why := bounds.control_character(plain):
        raise BodyError(why)
    return plain
