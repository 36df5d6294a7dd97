"""The notification outbox: what is to be told to whom, through which channel, queued in the
transaction that decided it and sent afterwards by the dispatcher (hub/notify/outbox.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime

CHANNELS = ("sms", "wechat", "push")


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'wechat', 'push')", name="channel_known"),
        CheckConstraint("state IN ('pending', 'sent', 'skipped')", name="state_known"),
        Index("ix_notifications_due", "state", "not_before"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # what makes two notices the same (e.g. "restock:<restock id>:<member id>"): told once
    key: Mapped[str] = mapped_column(String(128), unique=True)
    member_id: Mapped[str] = mapped_column(String(36), index=True)
    store_id: Mapped[str | None] = mapped_column(String(64))  # whose local quiet hours apply
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict] = mapped_column(JSON)
    # asked for by the member (a subscription): no marketing consent needed
    requested: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(200))
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
