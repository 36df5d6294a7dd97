"""Accounts, the stores a store manager runs, and sessions. A session row is either a console
login (the cookie) or an API refresh token; both are stored as SHA-256 hashes only, revoked by
stamping `revoked_at`. Refresh tokens rotate: each use revokes the row and issues a successor
in the same family; a revoked one used again revokes the whole family (it was stolen)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.accounts.roles import ROLES
from hub.db import Base, UtcDateTime, utcnow

_ROLE_CHECK = "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_ROLE_CHECK, name="role_known"),
        CheckConstraint("failed_logins >= 0", name="failures_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UserStore(Base):
    """The stores a store manager may see and act on (other roles ignore it)."""

    __tablename__ = "user_stores"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)


class Session(Base):
    __tablename__ = "auth_sessions"
    __table_args__ = (CheckConstraint("kind IN ('console', 'refresh')", name="kind_known"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
