"""Suppliers, what they sell at what cost, purchase orders and what arrived against them, and
the moving-average cost per store × SKU. Money in integer fen; a cost is per piece or per kg
(per 1000 milli-units), like a unit price."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime
from protocols import bounds

SKU_LEN = bounds.TEXT_LEN
PO_STATES = ("draft", "sent", "partly_received", "received", "cancelled")
# the lifecycle: which state may follow which (the service moves a PO only along these, with a
# conditional UPDATE on the state it left; the CHECKs below refuse a state without its dates)
PO_NEXT: dict[str, tuple[str, ...]] = {
    "draft": ("sent", "cancelled"),
    "sent": ("partly_received", "received", "cancelled"),
    "partly_received": ("partly_received", "received", "cancelled"),
    "received": (),
    "cancelled": (),
}
DISCREPANCY_KINDS = ("short", "over", "damaged", "not_ordered")


class Supplier(Base):
    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint("lead_time_days >= 0", name="lead_time_not_negative"),
        CheckConstraint("min_order_fen >= 0", name="min_order_not_negative"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    lead_time_days: Mapped[int] = mapped_column(Integer)
    min_order_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # per purchase order
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SupplierItem(Base):
    """What a supplier sells: cost per unit, pack size and the smallest quantity it takes."""

    __tablename__ = "supplier_items"
    __table_args__ = (
        CheckConstraint("cost_fen >= 0", name="cost_not_negative"),
        CheckConstraint("pack_milli > 0", name="pack_positive"),
        CheckConstraint("min_order_milli >= 0", name="min_order_not_negative"),
    )
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    cost_fen: Mapped[int] = mapped_column(BigInteger)
    pack_milli: Mapped[int] = mapped_column(BigInteger, default=1000)
    min_order_milli: Mapped[int] = mapped_column(BigInteger, default=0)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        CheckConstraint(
            "state IN ('draft', 'sent', 'partly_received', 'received', 'cancelled')",
            name="state_known",
        ),
        # a state carries the dates of how it was reached: never "received" without being sent
        CheckConstraint(
            "state IN ('draft', 'cancelled') OR sent_at IS NOT NULL", name="sent_before_receiving"
        ),
        CheckConstraint(
            "(state = 'draft') = (sent_at IS NULL) OR state = 'cancelled'", name="draft_unsent"
        ),
        CheckConstraint(
            "(state IN ('received', 'cancelled')) = (closed_at IS NOT NULL)", name="closed_at"
        ),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(String(bounds.REASON_LEN), default="")


class PoLine(Base):
    __tablename__ = "po_lines"
    __table_args__ = (
        CheckConstraint("ordered_milli > 0", name="ordered_positive"),
        CheckConstraint("received_milli >= 0", name="received_not_negative"),
        CheckConstraint("cost_fen >= 0", name="cost_not_negative"),
    )
    po_id: Mapped[str] = mapped_column(ForeignKey("purchase_orders.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    ordered_milli: Mapped[int] = mapped_column(BigInteger)
    received_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_fen: Mapped[int] = mapped_column(BigInteger)  # per unit, agreed when ordered


class GoodsReceipt(Base):
    """One delivery taken in (its id: the stock.received event's receipt id, or the API's):
    the primary key makes receiving the same delivery twice impossible."""

    __tablename__ = "goods_receipts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    po_id: Mapped[str | None] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    received_by: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lines: Mapped[list[dict]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(bounds.REASON_LEN), default="")


class Discrepancy(Base):
    """What a delivery did not match: more than ordered, damaged, not on the PO; and, when a
    PO is closed with less than ordered, what it fell short by (no receipt then)."""

    __tablename__ = "receipt_discrepancies"
    __table_args__ = (
        CheckConstraint("kind IN ('short', 'over', 'damaged', 'not_ordered')", name="kind_known"),
        CheckConstraint("qty_milli > 0", name="qty_positive"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receipt_id: Mapped[str | None] = mapped_column(ForeignKey("goods_receipts.id"), index=True)
    po_id: Mapped[str | None] = mapped_column(String(36), index=True)
    store_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(SKU_LEN))
    kind: Mapped[str] = mapped_column(String(16))
    qty_milli: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class StockCost(Base):
    """Moving-average cost per store × SKU (fen per unit), updated by every receipt."""

    __tablename__ = "stock_costs"
    __table_args__ = (CheckConstraint("avg_cost_fen >= 0", name="cost_not_negative"),)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    avg_cost_fen: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
