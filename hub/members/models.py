"""One profile per person. Phone and ID numbers are stored sealed (AES-GCM) with a blind index
beside each, the name sealed too; a unique index on the phone's blind index makes a second
profile with the same phone impossible. A merged profile is never deleted: it points at its
survivor and keeps its own history (ledger rows, sales, history entries), which the survivor's
views include."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow

CHANNELS = ("lane", "mini_program", "api")


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("channel IN ('lane', 'mini_program', 'api')", name="channel_known"),
        CheckConstraint("status IN ('active', 'merged')", name="status_known"),
        CheckConstraint(
            "(status = 'merged') = (merged_into IS NOT NULL)", name="merged_has_survivor"
        ),
        CheckConstraint("birth_month BETWEEN 1 AND 12", name="birth_month_range"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))  # before 0008 only: now sealed
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_no_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_no_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    birthday_clear: Mapped[date | None] = mapped_column("birthday", Date)  # before 0013: sealed
    birthday_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # the month alone stays in clear: the birthday points multiplier, the gift job's first
    # filter and the rule language's birthday_month work in SQL on it; day and year are sealed
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    tags_clear: Mapped[list[str]] = mapped_column("tags", JSON, default=list)  # [] since 0013
    tags_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # a JSON list, sealed
    channel: Mapped[str] = mapped_column(String(16))
    origin_store: Mapped[str | None] = mapped_column(String(64))
    card_no: Mapped[str] = mapped_column(String(16), unique=True)
    card_valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("members.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # set when the person's data was erased on request (hub/members/privacy.py)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MemberHistory(Base):
    """What happened to a profile, in order. Never holds a phone or ID number in clear."""

    __tablename__ = "member_history"
    __table_args__ = (Index("ix_member_history_member_at", "member_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class MemberMerge(Base):
    __tablename__ = "member_merges"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    absorbed_id: Mapped[str] = mapped_column(ForeignKey("members.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    moved: Mapped[dict] = mapped_column(JSON, default=dict)


class MemberPushEntry(Base):
    """One member as the hub last pushed them to a store's gateways (hub/members/push.py).
    `payload` NULL is a removal (the member left the store's recent set, or was erased) still
    to reach every gateway; `source` is the digest of what the entry was built from, so an
    unchanged member is not rebuilt (their name and phone are opened only on a change)."""

    __tablename__ = "member_push_entries"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("reason IN ('recent', 'left', 'erased')", name="reason_known"),
        CheckConstraint("(payload IS NULL) = (reason <> 'recent')", name="removal_has_no_payload"),
        Index("ix_member_push_entries_store_version", "store_id", "version"),
    )
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(8))
    source: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MemberPushState(Base):
    """A store's push version, and what was last published (its `since`)."""

    __tablename__ = "member_push_state"
    __table_args__ = (CheckConstraint("version >= 0", name="version_not_negative"),)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    published_version: Mapped[int] = mapped_column(Integer, default=0)
    published_since: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
