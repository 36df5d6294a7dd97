"""The stock ledger: every move of goods per store × SKU (quantities in milli-units, weighed
goods in grams), the balance kept beside it in the same transaction, alerts, transfers between
stores, stocktakes with their variance, and the daily demand the forecast reads."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime
from protocols import bounds

MOVE_KINDS = (
    "sale",
    "refund",
    "received",
    "transfer_out",
    "transfer_in",
    "stocktake",
    "damage",
    "loss",
    "pickup",
)
SKU_LEN = bounds.TEXT_LEN


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class StockMove(Base):
    """One move of one SKU in one store, keyed by (move id, line): a move that comes from an
    event has the event's id, so a replayed event can never move stock twice; other moves
    get a UUIDv7 of their own per booking. (No surrogate key: one B-tree per row written,
    which is what keeps ingest with stock near ingest without it.)"""

    __tablename__ = "stock_moves"
    __table_args__ = (
        CheckConstraint(_in("kind", MOVE_KINDS), name="kind_known"),
        {"sqlite_with_rowid": False},
    )
    move_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(SKU_LEN))
    kind: Mapped[str] = mapped_column(String(16))
    qty_milli: Mapped[int] = mapped_column(BigInteger)  # signed: + in, - out
    ref: Mapped[str | None] = mapped_column(String(64))  # PO, transfer, stocktake, pickup id
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class StockBalance(Base):
    """On hand and reserved per store × SKU, moved with every ledger move and reservation in
    the same transaction; available = on hand − reserved. On hand may go negative (a sale is
    never blocked): that raises an alert."""

    __tablename__ = "stock_balances"
    __table_args__ = (CheckConstraint("reserved_milli >= 0", name="reserved_not_negative"),)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    on_hand_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DailyDemand(Base):
    """Sold less refunded per store × SKU × store-local business day, kept with the moves:
    the series the forecast and replenishment read without scanning the ledger."""

    __tablename__ = "stock_daily_demand"
    __table_args__ = (Index("ix_stock_daily_demand_store_day", "store_id", "day"),)  # forecast
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sold_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_milli: Mapped[int] = mapped_column(BigInteger, default=0)


ALERT_KINDS = ("negative", "overreserved")


class StockAlert(Base):
    """A balance in trouble: on hand below zero, or more reserved than on hand. At most one
    open alert per store × SKU × kind (a partial unique index); cleared when the balance
    recovers. `published` goes false on every change so the store hears of it over MQTT."""

    __tablename__ = "stock_alerts"
    __table_args__ = (
        CheckConstraint(_in("kind", ALERT_KINDS), name="kind_known"),
        Index(
            "uq_stock_alerts_open",
            "store_id",
            "sku",
            "kind",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN))
    kind: Mapped[str] = mapped_column(String(16))
    on_hand_milli: Mapped[int] = mapped_column(BigInteger)
    reserved_milli: Mapped[int] = mapped_column(BigInteger)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    published: Mapped[bool] = mapped_column(default=False)


TRANSFER_STATES = ("in_transit", "received")


class Transfer(Base):
    """Goods on their way from one store to another: out of the sender's stock when sent,
    into the receiver's when received; in between they are in transit (counted by neither)."""

    __tablename__ = "stock_transfers"
    __table_args__ = (
        CheckConstraint(_in("state", TRANSFER_STATES), name="state_known"),
        CheckConstraint("from_store <> to_store", name="two_stores"),
        CheckConstraint("(state = 'received') = (received_at IS NOT NULL)", name="received_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    from_store: Mapped[str] = mapped_column(String(64))
    to_store: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TransferLine(Base):
    __tablename__ = "stock_transfer_lines"
    __table_args__ = (
        CheckConstraint("qty_milli > 0", name="qty_positive"),
        CheckConstraint("received_milli >= 0", name="received_not_negative"),
    )
    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    qty_milli: Mapped[int] = mapped_column(BigInteger)
    received_milli: Mapped[int] = mapped_column(BigInteger, default=0)


class StocktakeLine(Base):
    """The variance report of a stocktake: what the books said, what was counted."""

    __tablename__ = "stocktake_lines"
    __table_args__ = (CheckConstraint("counted_milli >= 0", name="counted_not_negative"),)
    count_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    expected_milli: Mapped[int] = mapped_column(BigInteger)
    counted_milli: Mapped[int] = mapped_column(BigInteger)
    variance_milli: Mapped[int] = mapped_column(BigInteger)  # counted − expected
    counted_by: Mapped[str] = mapped_column(String(bounds.TEXT_LEN))
    counted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RestockSubscription(Base):
    """A member asked to be told when a SKU is back in a store (one-shot: removed once the
    notice is queued)."""

    __tablename__ = "restock_subscriptions"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'wechat', 'push')", name="channel_known"),
    )
    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LEN), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Restock(Base):
    """A SKU that was out of stock in a store (nothing available) and is available again."""

    __tablename__ = "restocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(SKU_LEN))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
