"""The HQ audit log on both databases: appends chain, the database refuses edits, deletions and
a head moved anywhere but onto the newest row, and `verify` finds a row changed or removed
(middle or end) by someone who went around the triggers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.auth.principal import Principal
from hub.db import Database

MKT = Principal("user", 7, "li.na", role="hq_marketing")


def _three(db: Database) -> None:
    for n in range(3):
        with db.transaction() as s:
            audit.record(s, MKT, "catalog.store_price", f"sh1/sku{n}", None, {"price_fen": n})


@contextmanager
def around_triggers(db: Database) -> Iterator[Session]:
    """What someone with the database file or superuser rights can do: no triggers."""
    with db.transaction() as s:
        if db.is_sqlite:
            for t in ("audit_log_no_update", "audit_log_no_delete", "audit_head_forward"):
                s.execute(text(f"DROP TRIGGER {t}"))
        else:
            s.execute(text("SET LOCAL session_replication_role = replica"))
        yield s


def test_appends_chain_and_verify(db: Database) -> None:
    _three(db)
    with db.transaction() as s:
        v = audit.verify(s)
        rows = audit.listing(s, who="li.na")
    assert (v.ok, v.rows, v.problem) == (True, 3, None)
    assert [r["seq"] for r in rows] == [3, 2, 1]
    assert rows[0]["role"] == "hq_marketing" and rows[0]["after"] == '{"price_fen": 2}'
    assert v.head == rows[0]["hash"]


def test_an_entry_rolls_back_with_its_change(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as s:
        audit.record(s, MKT, "promotion", "1")
        raise RuntimeError("the change failed")
    _three(db)
    with db.transaction() as s:
        assert audit.verify(s).rows == 3


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET who = 'someone' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_head SET seq = 2",
        "UPDATE audit_head SET seq = 4, hash = 'x'",
        "DELETE FROM audit_head",
    ],
)
def test_the_database_refuses(db: Database, sql: str) -> None:
    _three(db)
    with pytest.raises(DBAPIError, match="audit"), db.transaction() as s:
        s.execute(text(sql))
    with db.transaction() as s:
        assert audit.verify(s).ok


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE audit_log SET after = '{\"price_fen\": 0}' WHERE seq = 2", "row 2 was changed"),
        ("DELETE FROM audit_log WHERE seq = 2", "row 2 is missing"),
        ("DELETE FROM audit_log WHERE seq = 3", "removed at the end"),
        ("DELETE FROM audit_log WHERE seq >= 2", "removed at the end"),
    ],
)
def test_verify_finds_what_went_around_the_triggers(db: Database, sql: str, problem: str) -> None:
    _three(db)
    with around_triggers(db) as s:
        s.execute(text(sql))
    with db.transaction() as s:
        v = audit.verify(s)
    assert not v.ok
    assert problem in (v.problem or "")
