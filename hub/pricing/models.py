"""Price checks and differences. Ingest queues every booked sale for a price check (its event,
in the sale's own transaction); the pricing job claims queued checks, prices each sale again
with the lane's engine and records a difference when the engine does not reproduce its lines
or total. One difference per sale at most; booking never waits for any of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow


class PriceCheck(Base):
    """A booked sale waiting for its recompute: the event as booked (its body as JSON)."""

    __tablename__ = "price_checks"
    sale_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    body: Mapped[str] = mapped_column(Text)
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class PriceDifference(Base):
    __tablename__ = "price_differences"
    __table_args__ = (
        CheckConstraint("booked_total_fen >= 0", name="booked_not_negative"),
        CheckConstraint(
            "expected_total_fen IS NULL OR expected_total_fen >= 0", name="expected_not_negative"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sale_id: Mapped[str] = mapped_column(String(64), unique=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    receipt_no: Mapped[str] = mapped_column(String(200))
    # the promotions snapshot recomputed with (None: the hub's current promotions)
    promotions_version: Mapped[int | None] = mapped_column(Integer)
    booked_total_fen: Mapped[int] = mapped_column(BigInteger)
    expected_total_fen: Mapped[int | None] = mapped_column(BigInteger)  # None: not recomputed
    reason: Mapped[str] = mapped_column(Text)
    lines: Mapped[list] = mapped_column(JSON, default=list)  # [{line, sku, booked, expected}]
    found_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
