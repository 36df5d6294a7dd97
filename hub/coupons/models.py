"""Coupon templates (what a coupon gives, where and when) and the coupons issued from them.
A coupon's state moves issued → redeemed (→ issued again when its sale is refunded) or void,
and only by a conditional UPDATE, so exactly one of any number of concurrent redemptions wins.
Every change is also written to `coupon_events`.

A lane claims a coupon before it grants it: a hold (`coupon_holds`, id chosen by the lane)
written onto the coupon's own row (`hold_id`, `held_until`), so a claim, a redemption and a
timeout all decide on the same row and one conditional UPDATE settles each race."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow

KINDS = ("amount_off", "percent_off", "threshold", "gift")


class CouponTemplate(Base):
    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('amount_off', 'percent_off', 'threshold', 'gift')", name="kind_known"
        ),
        CheckConstraint("percent_off BETWEEN 0 AND 100", name="percent_in_range"),
        CheckConstraint(
            "(valid_days IS NOT NULL) OR (valid_until IS NOT NULL)", name="has_validity"
        ),
        CheckConstraint(
            "total_limit IS NULL OR issued_count <= total_limit", name="within_total_limit"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    percent_off: Mapped[int] = mapped_column(Integer, default=0)
    cap_fen: Mapped[int | None] = mapped_column(BigInteger)
    threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    gift_sku: Mapped[str | None] = mapped_column(String(200))
    stores: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_days: Mapped[int | None] = mapped_column(Integer)  # N days from issue
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    total_limit: Mapped[int | None] = mapped_column(Integer)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    stackable: Mapped[bool] = mapped_column(default=False)
    on_promoted_lines: Mapped[bool] = mapped_column(default=True)
    trigger: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Coupon(Base):
    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("status IN ('issued', 'redeemed', 'void')", name="status_known"),
        CheckConstraint(
            "(status = 'redeemed') = (redeemed_sale_id IS NOT NULL)", name="redeemed_has_sale"
        ),
        Index("ix_coupons_member_template", "member_id", "template_id"),
        CheckConstraint("(hold_id IS NULL) = (held_until IS NULL)", name="hold_has_timeout"),
        CheckConstraint("hold_id IS NULL OR status = 'issued'", name="only_unused_is_held"),
    )
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"))
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(16), default="issued")
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    issue_source: Mapped[str] = mapped_column(String(16))  # manual | bulk | trigger | mall
    issue_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    redeemed_sale_id: Mapped[str | None] = mapped_column(String(64), index=True)
    redeemed_store_id: Mapped[str | None] = mapped_column(String(64))
    # the lane's claim, if any: free again once held_until has passed (the timeout)
    hold_id: Mapped[str | None] = mapped_column(String(36))
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


_LIVE = text("status = 'held'")


class CouponHold(Base):
    """A lane's claim on a coupon: held → committed (its sale booked) or released (the cashier
    cancelled) or expired (timed out). At most one live hold per coupon, in the database."""

    __tablename__ = "coupon_holds"
    __table_args__ = (
        CheckConstraint(
            "status IN ('held', 'committed', 'released', 'expired')", name="status_known"
        ),
        CheckConstraint("(status = 'committed') = (sale_id IS NOT NULL)", name="committed_sale"),
        CheckConstraint("discount_fen >= 0", name="discount_not_negative"),
        Index(
            "uq_coupon_holds_one_live",
            "code",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # chosen by the lane
    code: Mapped[str] = mapped_column(ForeignKey("coupons.code"))
    status: Mapped[str] = mapped_column(String(16), default="held")
    member_id: Mapped[str | None] = mapped_column(String(36))
    store_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(200))
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sale_id: Mapped[str | None] = mapped_column(String(64))


class CouponEvent(Base):
    __tablename__ = "coupon_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # issued redeemed released voided refused
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sale_id: Mapped[str | None] = mapped_column(String(64))
    store_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))
