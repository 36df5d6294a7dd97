"""The members table as a reader of the raw database sees it, for the sealing and erasure tests.

A short secret ("1949", "05-17", "vip") turns up by chance in what is random by construction:
ciphertext, ids, blind indexes, card numbers, timestamps (whose date is today's: "05-17" on
17 May). Those columns are left out of `Table.clear`; long secrets are checked on everything."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import text

from hub.db import Database

RANDOM = {"id", "merged_into", "phone_index", "id_no_index", "card_no"}
STAMPS = {"consent_at", "card_valid_until", "created_at", "updated_at", "erased_at"}


class Table(NamedTuple):
    rows: list[dict[str, Any]]  # as stored
    everything: str  # every column, as text
    clear: str  # the columns that could hold personal data in clear: not sealed, not random


def members_table(db: Database) -> Table:
    with db.engine.connect() as c:
        rows = [dict(r) for r in c.execute(text("SELECT * FROM members")).mappings()]
    clear = [
        {k: v for k, v in r.items() if k not in RANDOM | STAMPS and not isinstance(v, bytes)}
        for r in rows
    ]
    return Table(rows, repr(rows), repr(clear))
