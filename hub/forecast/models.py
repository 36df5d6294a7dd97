"""The latest forecast per store × SKU × day (milli-units per day): the nightly run replaces a
store's rows; the replenishment and the charts read them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, String
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
