"""The hub's contexts are tested against real databases: a migrated SQLite file in tmp_path, and a
PostgreSQL database when STOREGW_TEST_PG_URL names a server (one per test process, migrated
once, emptied before every test, dropped at the end)."""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from hub.db import Database
from hub.members.service import Members
from hub.members.vault import Vault
from tests.hub.till import Till

PG_URL = os.environ.get("STOREGW_TEST_PG_URL")


def _admin(sql: str) -> None:
    assert PG_URL
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql)


def _pg(name: str) -> str:
    assert PG_URL
    return f"{PG_URL.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hub.db"
    d = Database(f"sqlite:///{path}")
    d.migrate()
    d.engine.dispose()  # the last close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_session_db() -> Iterator[Database]:
    """One migrated PostgreSQL database per test process; emptied before each test."""
    if not PG_URL:
        pytest.skip("STOREGW_TEST_PG_URL is not set (CI sets it)")
    name = f"storegw_loyalty_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    d = Database(_pg(name))
    d.migrate()
    yield d
    d.engine.dispose()
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty(d: Database) -> None:
    """Every table emptied (sequences too) and the programme's default settings back."""
    import hub.models  # noqa: F401 - every table on the metadata
    from hub.audit.models import AuditHead
    from hub.db import Base
    from hub.loyalty.models import LoyaltySettings
    from protocols.audit_chain import GENESIS

    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with d.transaction() as s:
        # the audit log's triggers refuse TRUNCATE: off for this transaction only
        s.execute(text("SET LOCAL session_replication_role = replica"))
        s.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        s.add(LoyaltySettings(id=1))
        s.add(AuditHead(id=1, seq=0, hash=GENESIS))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "hub.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        d = Database(f"sqlite:///{path}")
        yield d
        d.engine.dispose()
        return
    d = request.getfixturevalue("pg_session_db")
    _empty(d)
    yield d


@pytest.fixture
def vault() -> Vault:
    return Vault(secrets.token_bytes(32))


@pytest.fixture
def members(vault: Vault) -> Members:
    return Members(vault)


@pytest.fixture
def till(db: Database) -> Till:
    return Till(db)
