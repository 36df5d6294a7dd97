"""What ingest remembers: each applied event id once (the idempotency key), every rejected
event with its reason (the dead-letter table), and every seq conflict (ingest_conflicts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow
from protocols import bounds


class AppliedEvent(Base):
    __tablename__ = "applied_events"
    __table_args__ = (UniqueConstraint("store_id", "gateway_id", "seq"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RejectedEvent(Base):
    __tablename__ = "rejected_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    event_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IngestConflict(Base):
    """An event that claimed a seq another event id already holds (a forged or replayed
    event, or a gateway whose journal was reset). Kept whole, whatever was done with it, and
    listed until someone looks; `key` (its event id, or a hash of what arrived) makes a resend
    of the same event recognisable."""

    __tablename__ = "ingest_conflicts"
    __table_args__ = (
        UniqueConstraint("store_id", "gateway_id", "key"),
        CheckConstraint("occupant IN ('applied', 'rejected', 'unknown')", name="occupant_known"),
        CheckConstraint("outcome IN ('applied', 'rejected')", name="outcome_known"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(bounds.ID_LEN))
    gateway_id: Mapped[str] = mapped_column(String(bounds.ID_LEN))
    seq: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(bounds.ID_LEN))
    event_id: Mapped[str | None] = mapped_column(String(bounds.ID_LEN))
    type: Mapped[str | None] = mapped_column(String(bounds.ID_LEN))
    occupant: Mapped[str] = mapped_column(String(16))  # what became of the seq's first event
    occupant_id: Mapped[str | None] = mapped_column(String(bounds.ID_LEN))
    outcome: Mapped[str] = mapped_column(String(16))  # what became of this one
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
