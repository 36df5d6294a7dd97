"""The hub's ingest handlers are assembled in one place, in an order one can read: the sales
books run before loyalty for the types both handle, and a handler is never added twice."""

from __future__ import annotations

import pytest

from hub.analytics import ingest as analytics
from hub.app import ingest_handlers
from hub.ingest.handlers import Handlers
from hub.loyalty import ingest as loyalty
from hub.pricing import recompute as pricing
from hub.sales import service as sales
from hub.stock import ingest as stock


def test_the_sales_books_run_before_loyalty() -> None:
    h = ingest_handlers()
    assert list(h.of("sale.completed")) == [
        sales.book_sales,
        loyalty.sales_completed,
        stock.sales_move_stock,
        pricing.queue_sales,
        analytics.follow_sales,
    ]
    assert list(h.of("sale.refunded")) == [
        sales.book_refunds,
        loyalty.sales_refunded,
        stock.refunds_move_stock,
        analytics.follow_sales,
    ]
    assert list(h.of("shift.closed")) == [sales.book_shift_closes]
    assert list(h.of("stock.counted")) == [stock.stocktakes]
    assert list(h.of("no.such.type")) == []


def test_each_registry_is_its_own_and_refuses_doubles() -> None:
    a, b = ingest_handlers(), ingest_handlers()
    a.add("shift.closed", loyalty.sales_completed)
    assert loyalty.sales_completed not in b.of("shift.closed")  # no shared global registry
    with pytest.raises(ValueError, match="already handles"):
        Handlers().add("sale.completed", sales.book_sales).add("sale.completed", sales.book_sales)
    only_sales = a.only(lambda fn: fn.__module__ == sales.__name__)
    assert list(only_sales.of("sale.completed")) == [sales.book_sales]
