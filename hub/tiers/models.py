"""Tier levels, each member's current tier, the spend that qualifies for them (per member per
business day, so a rolling 365-day window is a sum over at most 365 small rows) and the log of
every change (the tier event stream)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow

DOWNGRADE_MODES = ("never", "automatic", "grace")


class Tier(Base):
    __tablename__ = "tiers"
    __table_args__ = (
        CheckConstraint("discount_pct BETWEEN 1 AND 100", name="discount_in_range"),
        CheckConstraint("points_multiplier_pct >= 0", name="multiplier_not_negative"),
        CheckConstraint(
            "downgrade_mode IN ('never', 'automatic', 'grace')", name="downgrade_mode_known"
        ),
        CheckConstraint("grace_days >= 0", name="grace_not_negative"),
    )
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    discount_pct: Mapped[int] = mapped_column(Integer, default=100)  # 95 = 95折
    spend_threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    points_threshold: Mapped[int | None] = mapped_column(BigInteger)
    points_multiplier_pct: Mapped[int] = mapped_column(Integer, default=100)
    birthday_gift_template_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_templates.id"))
    downgrade_mode: Mapped[str] = mapped_column(String(16), default="automatic")
    grace_days: Mapped[int] = mapped_column(Integer, default=0)


class MemberTier(Base):
    __tablename__ = "member_tiers"
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    tier_code: Mapped[str] = mapped_column(ForeignKey("tiers.code"))
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    grace_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TierSpendDay(Base):
    __tablename__ = "tier_spend_days"
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    spend_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


class TierChange(Base):
    __tablename__ = "tier_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    from_code: Mapped[str | None] = mapped_column(String(32))
    to_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))  # sale | refund | daily | merge | manual …
    spend_fen: Mapped[int] = mapped_column(BigInteger)  # the window's figures at the change
    points: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
