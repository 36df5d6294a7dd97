"""The hub's database: SQLAlchemy 2 on a SQLite file by default, PostgreSQL by URL, the schema
owned by Alembic migrations. Both engines pass the same test suite."""

from __future__ import annotations

import logging
import operator
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive storage) and
    PostgreSQL (timestamptz) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


READING = "storegw_reading"  # an execution option: the transaction only reads


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # an ack is sent after COMMIT: the commit must be on disk when it returns
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            if conn.get_execution_options().get(READING):
                conn.exec_driver_sql("BEGIN")  # a snapshot to read: no write lock to wait for
                return
            # take the write lock up front: two writers never deadlock upgrading read locks,
            # and a balance read inside the transaction stays true until COMMIT
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.info["held_since"] = time.monotonic()

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _end(conn: Any) -> None:
            since = conn.info.pop("held_since", None)
            if since is not None and time.monotonic() - since > HELD_WARN_S:
                _held_too_long(time.monotonic() - since)

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


# SQLite has one write lock: a transaction holding it this long stalls every lane's online call
HELD_WARN_S = 1.0


def _held_too_long(held_s: float) -> None:
    # the stack at COMMIT names the code that opened the transaction (they are one `with`)
    ours = [f for f in traceback.extract_stack()[:-3] if "/hub/" in f.filename][-4:]
    where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(ours))
    log.warning("SQLite write lock held %.1f s by %s", held_s, where or "?")


def bulk_insert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    same: dict[str, Any] | None = None,
) -> None:
    """INSERT many rows through the driver's executemany, doing per row only what the column
    types require (their bind processors, fetched once). SQLAlchemy's generic executemany
    costs ~40 µs of Python per row on top; on the ingest path that halved the apply rate.
    `same`: columns with one value for every row (a pass's time), processed once."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    names = list(rows[0])
    procs = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    consts: tuple[Any, ...] = ()
    if same:
        for n, v in same.items():
            p = table.c[n].type.dialect_impl(dialect).bind_processor(dialect)
            consts += (p(v) if p else v,)
    cols = names + list(same or ())
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
    row_of = operator.itemgetter(*names) if len(names) > 1 else (lambda r: (r[names[0]],))
    fix = [(i, p) for i, p in enumerate(procs) if p is not None]
    params: list[Any]
    if not fix:
        params = [row_of(r) + consts for r in rows] if consts else [row_of(r) for r in rows]
    else:
        params = []
        for r in rows:
            t = list(row_of(r))
            for i, p in fix:
                t[i] = p(t[i])
            params.append(tuple(t) + consts)
    conn.exec_driver_sql(sql, params)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to head (idempotent; safe at every start)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.upgrade(alembic_config(engine), "head")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**{READING: True}), expire_on_commit=False
        )

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite a deferred BEGIN (no write lock), on PostgreSQL
        READ ONLY (a write in it fails instead of happening)."""
        with self._readers() as session, session.begin():
            if not self.is_sqlite:
                session.execute(text("SET TRANSACTION READ ONLY"))
            yield session

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"
