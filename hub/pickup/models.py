"""Online orders picked up in store (线上下单门店自提): the stock an order holds in its store
until the lane hands it over or the hold expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime
from protocols import bounds


class PickupOrder(Base):
    __tablename__ = "pickup_orders"
    __table_args__ = (
        CheckConstraint(
            "state IN ('held', 'picked_up', 'released', 'expired')", name="state_known"
        ),
        CheckConstraint("(state = 'held') = (closed_at IS NULL)", name="closed_at"),
        Index("ix_pickup_orders_due", "state", "expires_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the online order's id
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    member_id: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(bounds.TEXT_LEN))  # gateway / lane


class PickupLine(Base):
    __tablename__ = "pickup_lines"
    __table_args__ = (CheckConstraint("qty_milli > 0", name="qty_positive"),)
    order_id: Mapped[str] = mapped_column(ForeignKey("pickup_orders.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(bounds.TEXT_LEN), primary_key=True)
    qty_milli: Mapped[int] = mapped_column(BigInteger)
