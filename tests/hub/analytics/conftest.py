"""The hub's database fixtures (a migrated SQLite file; PostgreSQL when STOREGW_TEST_PG_URL is
set), `members` and `till`, borrowed from the loyalty tests until tests/hub/conftest.py holds
them (the tests are being moved to mirror the packages): then this file goes."""

from tests.loyalty.conftest import (  # noqa: F401 - fixtures
    db,
    members,
    pg_session_db,
    sqlite_template,
    till,
    vault,
)
