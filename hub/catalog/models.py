"""The chain's catalog, per-store prices and promotions, and every snapshot version built from
them for a store. A snapshot is immutable once written; a new version is made only when the
content changes (same digest, same version)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow


class CatalogItem(Base):
    __tablename__ = "catalog_items"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("unit IN ('piece', 'kg')", name="unit_known"),
        CheckConstraint("cost_fen IS NULL OR cost_fen >= 0", name="cost_not_negative"),
    )
    sku: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    price_fen: Mapped[int] = mapped_column(BigInteger)  # the chain's price
    cost_fen: Mapped[int | None] = mapped_column(BigInteger)  # per unit: the margin floor
    barcodes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StorePrice(Base):
    __tablename__ = "store_prices"
    __table_args__ = (CheckConstraint("price_fen >= 0", name="price_not_negative"),)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(200), primary_key=True)
    price_fen: Mapped[int] = mapped_column(BigInteger)


class Promotion(Base):
    """A typed promotion: `rule` holds the fields of the pricing engine's rule for `kind`
    (protocols/pricing/rules.py), validated before it is stored. Promotions sharing an
    `exclusive_group` never apply together (the engine picks the customer's best)."""

    __tablename__ = "promotions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    rule: Mapped[dict] = mapped_column(JSON, default=dict)
    exclusive_group: Mapped[str | None] = mapped_column(String(200))
    stores: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every store
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(default=True)


class ConfigSnapshot(Base):
    __tablename__ = "config_snapshots"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # the exact bytes published (UTF-8 JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GatewaySnapshot(Base):
    """The version each gateway reports holding (its retained `snapshots` topic)."""

    __tablename__ = "gateway_snapshots"
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
