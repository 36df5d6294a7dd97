"""The hub's real databases (SQLite file, PostgreSQL when STOREGW_TEST_PG_URL is set) and
the till that feeds the real ingest: the loyalty suite's fixtures, shared, not copied."""

from tests.loyalty.conftest import db, pg_session_db, sqlite_template, till  # noqa: F401
