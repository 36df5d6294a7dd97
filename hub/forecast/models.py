"""The latest forecast per store × SKU × day (milli-units per day): the nightly run replaces a
store's rows; the replenishment and the charts read them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime
from protocols import bounds


class DemandForecast(Base):
    __tablename__ = "demand_forecasts"
    __table_args__ = (
        CheckConstraint("low_milli <= mean_milli AND mean_milli <= high_milli", name="ordered"),
        CheckConstraint("low_milli >= 0 AND sigma_milli >= 0", name="not_negative"),
    )
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(bounds.TEXT_LEN), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    mean_milli: Mapped[int] = mapped_column(BigInteger)
    low_milli: Mapped[int] = mapped_column(BigInteger)
    high_milli: Mapped[int] = mapped_column(BigInteger)
    sigma_milli: Mapped[int] = mapped_column(BigInteger)  # the series' daily σ
    made_at: Mapped[datetime] = mapped_column(UtcDateTime)


BLOCK_DAYS = 64  # days per packed row: 512 bytes of little-endian int64


class DemandBlock(Base):
    """A store × SKU's net daily demand (sold − refunded, milli-units) for BLOCK_DAYS days from
    day `block` × BLOCK_DAYS after 1970-01-01, packed: the nightly forecast reads a store's
    two years as ~12 rows per SKU and numpy takes the bytes as they are. A copy of
    `stock_daily_demand` (the truth), kept by `hub/forecast/packed.py`."""

    __tablename__ = "forecast_demand_blocks"
    __table_args__ = (CheckConstraint("length(net) = 512", name="whole"),)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(bounds.TEXT_LEN), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    net: Mapped[bytes] = mapped_column(LargeBinary)


class DemandPacked(Base):
    """The store's blocks hold every day up to `through` (but the late ones below)."""

    __tablename__ = "forecast_demand_packed"
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    through: Mapped[date] = mapped_column(Date)


class DemandLate(Base):
    """A sale or refund booked for a day its store's blocks already hold: the reads take that
    day from `stock_daily_demand` until the next pack folds it in."""

    __tablename__ = "forecast_demand_late"
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(bounds.TEXT_LEN), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
