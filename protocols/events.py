"""Event bodies, one schema per (type, version). Money is strict integer fen; quantities are
milli-units (1 piece = 1000, weighed goods in grams). The sums are checked here so the hub
refuses a sale whose arithmetic does not add up instead of booking it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols import pricing

Fen = Annotated[int, Field(strict=True, ge=0)]
PositiveFen = Annotated[int, Field(strict=True, gt=0)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Tender = Literal["cash", "card", "wechat", "alipay", "unionpay", "points", "coupon", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Line(_Strict):
    sku: Text
    name: Text
    qty_milli: Annotated[int, Field(strict=True, gt=0, le=10_000_000)]
    unit_price_fen: Fen
    discount_fen: Fen = 0
    total_fen: Fen
    weighed: bool = False
    category: str | None = None

    def check(self) -> None:
        """Called by the sale's own validator: one Python call per sale, not per line."""
        gross = pricing.extend(self.qty_milli, self.unit_price_fen)
        if self.discount_fen > gross:
            raise ValueError(f"line {self.sku}: discount {self.discount_fen} exceeds {gross}")
        if self.total_fen != gross - self.discount_fen:
            raise ValueError(
                f"line {self.sku}: total_fen {self.total_fen} != {gross} - {self.discount_fen}"
            )


class Discount(_Strict):
    code: Text
    description: str = ""
    amount_fen: PositiveFen


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
    lines: Annotated[list[Line], Field(min_length=1, max_length=500)]
    discounts: list[Discount] = []
    total_fen: Fen
    payments: Annotated[list[Payment], Field(min_length=1, max_length=20)]
    change_fen: Fen = 0
    member_id: str | None = None
    member: MemberSummary | None = None
    coupons: list[str] = []
    # points paid with: the hub reservation they were held under (the hub deducts them once)
    points_reservation: str | None = None

    @model_validator(mode="after")
    def _adds_up(self) -> SaleCompleted:
        for line in self.lines:
            line.check()
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
        return self


class RefundLine(_Strict):
    sku: Text
    qty_milli: Annotated[int, Field(strict=True, gt=0)]
    amount_fen: Fen


class SaleRefunded(_Strict):
    refund_id: str
    sale_id: str  # the original sale (its event id), possibly from another store
    lane: Text
    cashier: Text
    reason: str = ""
    lines: Annotated[list[RefundLine], Field(min_length=1)]
    total_fen: PositiveFen
    payments: Annotated[list[Payment], Field(min_length=1)]

    @model_validator(mode="after")
    def _adds_up(self) -> SaleRefunded:
        if sum(x.amount_fen for x in self.lines) != self.total_fen:
            raise ValueError("refund total_fen is not the sum of its lines")
        if sum(p.amount_fen for p in self.payments) != self.total_fen:
            raise ValueError("refund payments do not add up to total_fen")
        return self


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
    sales_count: Annotated[int, Field(strict=True, ge=0)]
    sales_fen: Fen
    refunds_fen: Fen = 0
    tenders: list[TenderCount] = []


SCHEMAS: dict[tuple[str, int], type[BaseModel]] = {
    ("sale.completed", 1): SaleCompleted,
    ("sale.refunded", 1): SaleRefunded,
    ("shift.closed", 1): ShiftClosed,
}
