"""Sales, refunds and shift closes as the stores reported them (text widths from
protocols.bounds, so every event the contract accepts fits). The sale id is the event id
of its sale.completed (a UUIDv7), so a replayed event can never book a second sale."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime
from protocols import bounds


class Sale(Base):
    __tablename__ = "sales"
    __table_args__ = (
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        # on SQLite migration 0003 makes this a trigger (the table cannot be rebuilt in place)
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= total_fen", name="refunded_within_total"
        ),
        Index("ix_sales_store_time", "store_id", "occurred_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    gateway_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    cashier: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    receipt_no: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    business_day: Mapped[date] = mapped_column(Date)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    change_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    member_id: Mapped[str | None] = mapped_column(String(64), index=True)
    coupons: Mapped[list[str]] = mapped_column(JSON, default=list)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class SaleLine(Base):
    __tablename__ = "sale_lines"
    __table_args__ = (
        # a line never gives back more than it sold (hub/sales/refunds.py keeps it; so does this)
        CheckConstraint(
            "refunded_qty_milli >= 0 AND refunded_qty_milli <= qty_milli", name="refunded_qty_sold"
        ),
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= total_fen", name="refunded_fen_sold"
        ),
    )
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(bounds.TEXT_LEN), index=True)
    name: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    category: Mapped[str | None] = mapped_column(String(bounds.TEXT_LEN))
    qty_milli: Mapped[int] = mapped_column(BigInteger)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    weighed: Mapped[bool] = mapped_column(default=False)
    refunded_qty_milli: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class SalePayment(Base):
    __tablename__ = "sale_payments"
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str | None] = mapped_column(String(bounds.TEXT_LEN))


class Refund(Base):
    """A refund booked against its sale (`booked`), or held until its sale arrives
    (`unmatched`: another store refunded while the selling gateway was offline). A refund the
    hub refuses is not here but in refund_issues."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("status IN ('booked', 'unmatched')", name="status_known"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sale_id: Mapped[str] = mapped_column(String(36), index=True)  # may be another store's
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    gateway_id: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    cashier: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    reason: Mapped[str] = mapped_column(String(bounds.REASON_LEN), default="")
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict]] = mapped_column(JSON)
    payments: Mapped[list[dict]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="booked", server_default="booked")
    claim_id: Mapped[str | None] = mapped_column(String(36))


class RefundClaim(Base):
    """Part of a sale a lane reserved online before paying a refund out (RPC refund.claim).
    It counts against the sale until its refund is booked (then deleted), it is released, or
    it expires. `shares` are [line n, qty_milli, fen]."""

    __tablename__ = "refund_claims"
    __table_args__ = (CheckConstraint("total_fen >= 0", name="total_not_negative"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    store_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(200))
    total_fen: Mapped[int] = mapped_column(BigInteger)
    shares: Mapped[list[list[int]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RefundIssue(Base):
    """A refund the hub refused to book (more than was left, a SKU not in the sale, not a
    sale id): the money left a till, so it is kept and listed (GET /api/refunds/issues) for
    someone to settle, never dropped."""

    __tablename__ = "refund_issues"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the refund's event id
    sale_id: Mapped[str] = mapped_column(String(200), index=True)
    store_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(200))
    cashier: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict]] = mapped_column(JSON)
    payments: Mapped[list[dict]] = mapped_column(JSON)
    claim_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    found_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ShiftClose(Base):
    __tablename__ = "shift_closes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    gateway_id: Mapped[str] = mapped_column(String(64))
    shift_id: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    lane: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    cashier: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sales_count: Mapped[int] = mapped_column(Integer)
    sales_fen: Mapped[int] = mapped_column(BigInteger)
    refunds_fen: Mapped[int] = mapped_column(BigInteger)
    tenders: Mapped[list[dict]] = mapped_column(JSON)
