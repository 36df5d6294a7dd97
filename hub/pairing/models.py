"""Pairing requests (a gateway's CSR waiting for HQ to enter its code) and the certificates the
hub's CA issued to gateways, with their revocation: the CRL is made from these rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow


class PairingRequest(Base):
    __tablename__ = "pairing_requests"
    __table_args__ = (CheckConstraint("state IN ('pending', 'approved')", name="state_known"),)
    # a random id only the gateway knows: it fetches its certificate with it
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    store_id: Mapped[str] = mapped_column(String(64))  # as the CSR claims it
    gateway_id: Mapped[str] = mapped_column(String(64))
    csr: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(40))


class GatewayCertificate(Base):
    __tablename__ = "gateway_certificates"
    __table_args__ = (Index("ix_gateway_certificates_gateway", "store_id", "gateway_id"),)
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex
    store_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    pem: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    not_after: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
