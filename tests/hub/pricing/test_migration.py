"""Migration 0006_pricing on a hub that stored promotions as free JSON: a rule the engine can
evaluate is kept (typed, defaults filled in), one it cannot is switched off, never lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from hub.catalog.models import Promotion
from hub.db import Database, alembic_config


@pytest.fixture
def url(hub_db_url: str | None, tmp_path: Path) -> str:
    return hub_db_url or f"sqlite:///{tmp_path / 'hub.db'}"


def test_free_json_promotions_are_typed_or_switched_off(url: str):
    d = Database(url)
    try:
        command.upgrade(alembic_config(d.engine), "0005_ingest_conflicts")
        rows = [
            (1, "spend_save", '{"threshold_fen": 10000, "save_fen": 1500}'),
            (2, "free_beer", '{"litres": 1}'),
            (3, "percent_off", '{"percent_off": 0.5}'),
        ]
        with d.engine.begin() as c:
            for pid, kind, rule in rows:
                c.execute(
                    text(
                        "INSERT INTO promotions (id, name, kind, rule, stores, active)"
                        " VALUES (:id, 'old', :kind, :rule, '[]', true)"
                    ),
                    {"id": pid, "kind": kind, "rule": rule},
                )
        d.migrate()
        with d.transaction() as s:
            got = {p.id: p for p in s.query(Promotion).order_by(Promotion.id)}
            assert got[1].active and got[1].rule["save_fen"] == 1500
            assert got[1].rule["repeat"] is False and got[1].exclusive_group is None
            assert not got[2].active and not got[3].active  # kept, switched off
            assert got[2].rule == {"litres": 1}
    finally:
        d.engine.dispose()
