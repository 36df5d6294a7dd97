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


class SalePayment(Base):
    __tablename__ = "sale_payments"
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str | None] = mapped_column(String(bounds.TEXT_LEN))


class Refund(Base):
    __tablename__ = "refunds"
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
