"""Stock tests run on the loyalty tests' real databases (a migrated SQLite file; PostgreSQL
when STOREGW_TEST_PG_URL is set) and feed events through the hub's real ingest (`Till`)."""

from __future__ import annotations

from tests.loyalty.conftest import (  # noqa: F401 - fixtures shared, not repeated
    Till,
    db,
    line,
    members,
    pg_session_db,
    register,
    sqlite_template,
    till,
    vault,
)
