"""Replenishment settings per store × SKU and the reorder alerts (available below the
reorder point). Quantities in milli-units."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime
from protocols import bounds


class ReplenishmentSetting(Base):
    """How a store × SKU is replenished: safety stock from a service level (z · σ over the
    lead time) or fixed, the review period, and optionally the supplier (else the cheapest
    one selling the SKU). A store × SKU without a row takes the defaults (service.DEFAULTS)."""

    __tablename__ = "replenishment_settings"
    __table_args__ = (
        CheckConstraint(
            "service_level_pm > 0 AND service_level_pm < 1000", name="service_level_range"
        ),
        CheckConstraint(
            "fixed_safety_milli IS NULL OR fixed_safety_milli >= 0", name="fixed_not_negative"
        ),
        CheckConstraint("review_days >= 1 AND review_days <= 90", name="review_range"),
    )
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(bounds.TEXT_LEN), primary_key=True)
    service_level_pm: Mapped[int] = mapped_column(Integer, default=950)  # per mille: 950 = 95 %
    fixed_safety_milli: Mapped[int | None] = mapped_column(BigInteger)
    review_days: Mapped[int] = mapped_column(Integer, default=7)
    supplier_id: Mapped[str | None] = mapped_column(String(64))


class ReorderAlert(Base):
    """An open alert: the store × SKU's available stock is below its reorder point. One row
    per store × SKU at most (the key); deleted when stock is back above the point."""

    __tablename__ = "reorder_alerts"
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(bounds.TEXT_LEN), primary_key=True)
    available_milli: Mapped[int] = mapped_column(BigInteger)
    reorder_point_milli: Mapped[int] = mapped_column(BigInteger)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published: Mapped[bool] = mapped_column(Boolean, default=False)


class ReplenishmentRun(Base):
    """The nightly run of one store for one store-local business day: its key is what keeps a
    day from running twice (a catch-up after the hub was down, two hub processes, a run by
    hand). Written in the same transaction as the run's forecast, alerts and orders, so a run
    that failed left no row and is tried again."""

    __tablename__ = "replenishment_runs"
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime)
    series: Mapped[int] = mapped_column(Integer)  # SKUs forecast
    alerts: Mapped[int] = mapped_column(Integer)  # open reorder alerts after the run
    orders: Mapped[int] = mapped_column(Integer)  # purchase orders drafted (or sent)
    transfers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # suggested, into the store
