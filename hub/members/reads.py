"""Read-only transactions for the hot read paths (the member 360° view). On SQLite every
transaction of the hub's engine is BEGIN IMMEDIATE — it takes the write lock, so a view would
queue behind each ingest pass and sleep in SQLite's busy handler. WAL lets readers see a
consistent snapshot beside a writer: this engine opens plain deferred transactions on
connections that may not write (PRAGMA query_only). On PostgreSQL (MVCC, nothing to wait for)
its reads run in autocommit on their own pool — no BEGIN / COMMIT / ping round trips; a view's
few reads may then straddle a commit, which a view can live with."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Connection, create_engine, event

from hub.db import Database
from hub.members import overview


class Reader:
    def __init__(self, db: Database) -> None:
        self._today: tuple[float, date] | None = None
        if not db.is_sqlite:
            self.engine = create_engine(
                db.engine.url, pool_size=10, max_overflow=10, isolation_level="AUTOCOMMIT"
            )
            return
        engine = create_engine(db.url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # BEGIN is ours, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA query_only=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")  # deferred: a snapshot at the first read, no lock

        self.engine = engine

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def today(self) -> date:
        """The programme's local date, looked up at most once a minute."""
        now = time.monotonic()
        if self._today is None or now - self._today[0] > 60:
            with self.connection() as conn:
                self._today = (now, overview.today(conn))
        return self._today[1]

    def dispose(self) -> None:
        self.engine.dispose()
