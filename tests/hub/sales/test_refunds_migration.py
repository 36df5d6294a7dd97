"""Migration 0003_refunds on a database holding 0002 data: refunds that overtook their sale
become unmatched, and the database refuses a sale refunded beyond its total."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hub.db import Database, alembic_config

SALE = "01a22170-1111-7000-8000-000000000001"
ELSEWHERE = "01a22170-2222-7000-8000-000000000002"


def test_upgrade_keeps_history_and_enforces_the_rule(tmp_path: Path, hub_db_url: str | None):
    db = Database(hub_db_url or f"sqlite:///{tmp_path / 'hub.db'}")
    command.upgrade(alembic_config(db.engine), "0002")
    with db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO stores (id, name, tz, created_at) "
                "VALUES ('sa', 'sa', 'Asia/Shanghai', CURRENT_TIMESTAMP)"
            )
        )
        s.execute(
            text(
                "INSERT INTO sales (id, store_id, gateway_id, seq, lane, cashier, receipt_no, "
                "business_day, occurred_at, total_fen, change_fen, discount_fen, coupons, "
                "refunded_fen) VALUES (:id, 'sa', 'g1', 1, '1', 'c', 'r', '2026-11-23', "
                "CURRENT_TIMESTAMP, 6000, 0, 0, '[]', 2000)"
            ),
            {"id": SALE},
        )
        s.execute(
            text(
                "INSERT INTO sale_lines (sale_id, n, sku, name, qty_milli, unit_price_fen, "
                "discount_fen, total_fen, weighed) VALUES (:id, 1, 'B-10', 'b', 2000, 3000, 0, "
                "6000, false)"
            ),
            {"id": SALE},
        )
        for rid, sale_id in (("r-booked", SALE), ("r-early", ELSEWHERE)):
            s.execute(
                text(
                    "INSERT INTO refunds (id, sale_id, store_id, gateway_id, lane, cashier, "
                    "reason, occurred_at, total_fen, lines, payments) VALUES (:r, :s, 'sa', "
                    "'g1', '1', 'c', '', CURRENT_TIMESTAMP, 2000, '[]', '[]')"
                ),
                {"r": rid, "s": sale_id},
            )
    db.migrate()
    with db.transaction() as s:
        assert s.execute(text("SELECT id, status FROM refunds ORDER BY id")).all() == [
            ("r-booked", "booked"),
            ("r-early", "unmatched"),
        ]
        assert s.execute(text("SELECT refunded_fen FROM sales")).scalar_one() == 2000
    for sql in (
        "UPDATE sales SET refunded_fen = 6001",
        "UPDATE sale_lines SET refunded_fen = 6001",
        "UPDATE sale_lines SET refunded_qty_milli = 2001",
    ):
        with pytest.raises(IntegrityError), db.transaction() as s:
            s.execute(text(sql))
    db.engine.dispose()
