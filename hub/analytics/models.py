"""What member analytics computes and keeps (migration 0009_analytics). Every score table says
when it was computed; `analytics_runs` says how (the method and its parameters), so each list
the API gives carries `computed_at` and `method`.

Scores hang off the surviving profile (a merged profile's sales count for its survivor). The
score tables carry no foreign key to members: they are rebuilt from members by each run, and
a key check per inserted row tripled the daily job's time at a million members."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")  # an autoincrementing rowid on SQLite
KINDS = ("rfm", "heat", "intimacy", "facts", "segments", "ltv", "daily")


class AnalyticsRun(Base):
    """One computation: what ran, with which parameters, when, and what it found."""

    __tablename__ = "analytics_runs"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('rfm', 'heat', 'intimacy', 'facts', 'segments', 'ltv', 'daily')",
            name="kind_known",
        ),
        Index("ix_analytics_runs_kind_id", "kind", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    method: Mapped[str] = mapped_column(Text)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)


class MemberRfm(Base):
    __tablename__ = "member_rfm"
    __table_args__ = (
        CheckConstraint("r BETWEEN 1 AND 5 AND f BETWEEN 1 AND 5 AND m BETWEEN 1 AND 5", "scores"),
        Index("ix_member_rfm_cell", "cell"),
    )
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # not the recency itself: it grows every day, and a row should change only when the member
    # does (rfm.recency_days gives it from the run's as_of)
    last_purchase: Mapped[date] = mapped_column(Date)
    frequency: Mapped[int] = mapped_column(Integer)
    monetary_fen: Mapped[int] = mapped_column(BigInteger)
    r: Mapped[int] = mapped_column(Integer)
    f: Mapped[int] = mapped_column(Integer)
    m: Mapped[int] = mapped_column(Integer)
    cell: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MemberInteraction(Base):
    """What a member did besides buying: an online interaction (mini-program visit, share,
    game) or a review, as the channel reported it; `key` makes a resent report harmless."""

    __tablename__ = "member_interactions"
    __table_args__ = (
        CheckConstraint("kind IN ('online', 'review')", name="kind_known"),
        Index("ix_member_interactions_member_at", "member_id", "at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(64), unique=True)


class MemberHeat(Base):
    """The heat index of one member for one week (the Monday of the store-local week), with
    the counts it came from; one row per week is the history the churn warning reads."""

    __tablename__ = "member_heat"
    __table_args__ = (
        CheckConstraint("heat BETWEEN 0 AND 100", name="heat_in_range"),
        Index("ix_member_heat_week", "week", "heat"),
    )
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    heat: Mapped[int] = mapped_column(Integer)
    visits: Mapped[int] = mapped_column(Integer)
    online: Mapped[int] = mapped_column(Integer)
    reviews: Mapped[int] = mapped_column(Integer)
    coupons: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChurnWarning(Base):
    """Heat fell two weeks in a row (`heats` = the three weeks, oldest first). `pushed_at`:
    when it went to the member's home store."""

    __tablename__ = "churn_warnings"
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    week: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    store_id: Mapped[str | None] = mapped_column(String(64))
    heat: Mapped[int] = mapped_column(Integer)
    heats: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    pushed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MemberIntimacy(Base):
    __tablename__ = "member_intimacy"
    __table_args__ = (CheckConstraint("score BETWEEN 0 AND 100", name="score_in_range"),)
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    spend_fen: Mapped[int] = mapped_column(BigInteger)
    visits: Mapped[int] = mapped_column(Integer)
    interactions: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MemberFacts(Base):
    """Per member the purchase facts rules read (net of refunds; a purchase is a sale not
    refunded in full), kept current by ingest for the members of each batch and rebuilt by the
    daily job. Windowed facts are relative to `as_of`."""

    __tablename__ = "member_facts"
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    spend_365d_fen: Mapped[int] = mapped_column(BigInteger)
    visits_365d: Mapped[int] = mapped_column(Integer)
    spend_total_fen: Mapped[int] = mapped_column(BigInteger)
    visits_total: Mapped[int] = mapped_column(Integer)
    first_purchase: Mapped[date | None] = mapped_column(Date)
    last_purchase: Mapped[date | None] = mapped_column(Date)
    as_of: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Segment(Base):
    """A named rule over member facts (hub/analytics/rules.py); `rule` is its source text."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


_OPEN = text("left_at IS NULL")


class SegmentMembership(Base):
    """A member's stay in a segment: entered_at, and left_at once he no longer matches. At
    most one open stay per member and segment, in the database."""

    __tablename__ = "segment_memberships"
    __table_args__ = (
        Index(
            "uq_segment_memberships_open",
            "segment_id",
            "member_id",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_segment_memberships_entered", "segment_id", "entered_at"),
        Index("ix_segment_memberships_member", "member_id"),
        CheckConstraint("left_at IS NULL OR left_at >= entered_at", name="left_after_entered"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(36))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LtvFit(Base):
    """One BG/NBD + Gamma-Gamma fit: for the chain or one segment (`scope`)."""

    __tablename__ = "ltv_fits"
    __table_args__ = (Index("ix_ltv_fits_scope_id", "scope", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(80))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    period: Mapped[str] = mapped_column(String(8))
    customers: Mapped[int] = mapped_column(Integer)
    bgnbd: Mapped[dict] = mapped_column(JSON)
    gamma_gamma: Mapped[dict | None] = mapped_column(JSON)
    holdout: Mapped[dict | None] = mapped_column(JSON)


class MemberLtv(Base):
    """A member's prediction from the chain's newest fit: P(alive), expected purchases and
    value (fen) over `horizon_days`."""

    __tablename__ = "member_ltv"
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fit_id: Mapped[int] = mapped_column(Integer)  # ltv_fits.id, written together
    x: Mapped[int] = mapped_column(Integer)
    t_x: Mapped[float] = mapped_column(Float)
    age: Mapped[float] = mapped_column(Float)  # T, in the fit's period
    p_alive: Mapped[float] = mapped_column(Float)
    expected_purchases: Mapped[float] = mapped_column(Float)
    expected_value_fen: Mapped[int] = mapped_column(BigInteger)
    horizon_days: Mapped[int] = mapped_column(Integer)
    first_purchase: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)
