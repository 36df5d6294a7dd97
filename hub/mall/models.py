"""The points mall's tables: items on sale for points, and members' orders of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow


class MallItem(Base):
    __tablename__ = "mall_items"
    __table_args__ = (
        CheckConstraint("points_price > 0", name="price_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("kind IN ('goods', 'service', 'perk')", name="kind_known"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    partner: Mapped[str | None] = mapped_column(String(200))
    points_price: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(BigInteger)  # None: unlimited
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    coupon_template_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_templates.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MallOrder(Base):
    __tablename__ = "mall_orders"
    __table_args__ = (
        CheckConstraint("status IN ('placed', 'fulfilled', 'cancelled')", name="status_known"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the client's key
    item_id: Mapped[int] = mapped_column(ForeignKey("mall_items.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="placed")
    voucher: Mapped[str | None] = mapped_column(String(32), unique=True)
    coupon_code: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
