"""API keys for integrations (and the first HQ token), stored as SHA-256 hashes: a leaked
database does not leak a usable key. A key carries scopes (`members:read`, `sales:read`, …, or
`*` for all, which the first HQ token has); hub/auth/policy.py names each route's scope."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # "hq" marks the first HQ token (hub/auth/service.py: FIRST), "api" every other key
    role: Mapped[str] = mapped_column(String(32), default="api")
    # space-separated scopes; "*" is every scope. A new row has none unless given; the
    # server default is for the rows before migration 0006 (all were full HQ tokens)
    scopes: Mapped[str] = mapped_column(String(1000), default="", server_default="*")
    # the key's first characters, to tell keys apart in a list without storing the key
    hint: Mapped[str] = mapped_column(String(12), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
