"""The points ledger and what hangs off it.

- `points_ledger` is append-only: every movement is a row, signed, tied to its source (a sale,
  a refund, a reservation, a mall order, an expiring lot, a merge) and unique per
  (source, member, kind) — the idempotency key, so a redelivered event cannot post twice.
- `points_lots` are the credits still to be spent, each with its expiry; debits take from
  them first-to-expire first, and `points_allocations` record which lots each debit took.
- `points_accounts` is the row a movement locks (FOR UPDATE on PostgreSQL) and the running
  sums of the ledger: balance = Σ points = Σ lots.remaining, debt = Σ debt_change. CHECKs keep
  balance, held and debt from ever going below zero, whatever the code above does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")  # an autoincrementing rowid on SQLite

CREDITS = ("earn", "refund_spend", "merge_in", "adjust_in", "mall_cancel")
DEBITS = (
    "spend",
    "expire",
    "reverse_earn",
    "debt_settle",
    "merge_out",
    "adjust_out",
    "mall",
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class PointsAccount(Base):
    __tablename__ = "points_accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("held >= 0 AND held <= balance", name="held_within_balance"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)  # reserved by lanes
    debt: Mapped[int] = mapped_column(BigInteger, default=0)  # owed after a reversal shortfall
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("source_id", "member_id", "kind"),
        CheckConstraint(
            f"(kind IN ({_in(CREDITS)}) AND points >= 0)"
            f" OR (kind IN ({_in(DEBITS)}) AND points <= 0)",
            name="sign_matches_kind",
        ),
        Index("ix_points_ledger_member_posted", "member_id", "posted_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7: time-ordered
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    debt_change: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(64))
    sale_id: Mapped[str | None] = mapped_column(String(36))  # a link; looked up by source
    store_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    detail: Mapped[dict | None] = mapped_column(JSON)


class PointsLot(Base):
    __tablename__ = "points_lots"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_within"),
        Index("ix_points_lots_fifo", "member_id", "expires_at", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("points_ledger.id"))  # never searched
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PointsAllocation(Base):
    """Which lots a debit consumed, and how much of each."""

    __tablename__ = "points_allocations"
    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)
    debit_id: Mapped[str] = mapped_column(ForeignKey("points_ledger.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("points_lots.id"), primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)


class PointsReservation(Base):
    """Points a lane holds for a payment: held → committed (spent) or released / expired."""

    __tablename__ = "points_reservations"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint(
            "status IN ('held', 'committed', 'released', 'expired')", name="status_known"
        ),
        Index("ix_points_reservations_status_expiry", "status", "expires_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # chosen by the lane
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="held")
    store_id: Mapped[str | None] = mapped_column(String(64))
    gateway_id: Mapped[str | None] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sale_id: Mapped[str | None] = mapped_column(String(36))


class EarningRule(Base):
    """Points per yuan spent, for a store and/or a category. The most specific active rule
    wins for a line (store+category, then category, then store); then the higher priority."""

    __tablename__ = "earning_rules"
    __table_args__ = (CheckConstraint("rate_milli >= 0", name="rate_not_negative"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    store_id: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(200))
    rate_milli: Mapped[int] = mapped_column(Integer)  # milli-points per yuan (1000 = 1 pt/¥)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(default=True)


class LoyaltySettings(Base):
    """The programme's knobs, one row (id 1)."""

    __tablename__ = "loyalty_settings"
    __table_args__ = (
        CheckConstraint("base_rate_milli >= 0", name="base_rate_not_negative"),
        CheckConstraint("point_value_milli_fen >= 0", name="value_not_negative"),
        CheckConstraint("points_valid_days > 0", name="validity_positive"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_rate_milli: Mapped[int] = mapped_column(Integer, default=1000)
    birthday_multiplier_pct: Mapped[int] = mapped_column(Integer, default=200)
    point_value_milli_fen: Mapped[int] = mapped_column(Integer, default=1000)  # 1 pt = 1 fen
    points_valid_days: Mapped[int] = mapped_column(Integer, default=365)
    reservation_ttl_s: Mapped[int] = mapped_column(Integer, default=300)
    card_valid_days: Mapped[int] = mapped_column(Integer, default=730)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class LoyaltyIssue(Base):
    """What loyalty could not do as asked and HQ should look at: a coupon used twice offline,
    points a refund could not take back, a sale for an unknown member. The sale is booked
    regardless; this is the record that nothing was dropped silently."""

    __tablename__ = "loyalty_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    member_id: Mapped[str | None] = mapped_column(String(36))
    source_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)

