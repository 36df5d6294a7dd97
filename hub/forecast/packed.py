"""Daily demand as the forecast reads it: `stock_daily_demand` (one row per store × SKU × day,
kept by ingest; the truth) packed into `forecast_demand_blocks`, 64 days of int64 per row.

A store's two years are 1.46 M rows in `stock_daily_demand`: reading them took 0.9 s of CPU
and 4 s of wall per store on the shared machine, most of the nightly run. The same history
packed is ~12 blocks per SKU of 512 bytes, which the read asks the database to join per SKU
(~2,000 rows a store, each its block numbers and their bytes end to end) and numpy takes as
they are.

- `pack(store, until)`, in the nightly run: folds the days after the store's `through` up to
  `until`, and the late days (below), into the blocks; `through` = until. Only the blocks
  those days fall in are rewritten (one or two per SKU a night).
- `mark_late`, in ingest's transaction: a sale or refund booked for a day at or before its
  store's `through` marks that store × SKU × day late; the reads take it from
  `stock_daily_demand` until the next pack. On PostgreSQL ingest holds the store's `through`
  row (FOR KEY SHARE) to its commit and `pack` locks it (FOR UPDATE) first: a pack waits for
  the sales in flight and sees them, and sales after it see the new `through`. (A store's first
  pack creates its row: a late sale in flight at that moment may be missed until the store is
  repacked: `DELETE FROM forecast_demand_packed WHERE store_id = …` makes the next pack start
  over from `stock_daily_demand`.)
- `read(stores, first, until)`: blocks, plus the days after `through` and the late days from
  `stock_daily_demand` (all of it for a store never packed): always exact."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hub.forecast.models import BLOCK_DAYS

EPOCH = date(1970, 1, 1)
NEVER = EPOCH  # `through` of a store not packed yet: nothing is
_BLOCK_BYTES = BLOCK_DAYS * 8


def day_number(d: date) -> int:
    return (d - EPOCH).days


class _Sql:
    """The few spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.mark = "%s" if self.pg else "?"

    def day(self, column: str) -> str:  # a date column as days since 1970-01-01
        if self.pg:
            return f"({column} - DATE '1970-01-01')"
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"

    def agg(self, expr: str, order: str) -> str:  # a group's values as one string, in order
        if self.pg:
            return f"string_agg(({expr})::text, ',' ORDER BY {order})"
        return f"group_concat({expr}, ',')"

    def blobs(self, expr: str, order: str) -> str:  # a group's blobs end to end, in the same
        if self.pg:  # order as an `agg` beside it (SQLite: both see the group's rows in turn)
            return f"string_agg({expr}, ''::bytea ORDER BY {order})"
        # SQLite joins a blob's bytes as they are (read as text, never converted) and the CAST
        # gives those bytes back
        return f"CAST(group_concat({expr}, '') AS BLOB)"

    def indexed(self, index: str) -> str:  # SQLite's planner told which index to use
        return "" if self.pg else f" INDEXED BY {index}"

    def date(self, d: date) -> Any:
        return d if self.pg else d.isoformat()

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)


def _as_date(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(v)


def mark_late(s: Session, keys: Iterable[tuple[str, str, date]]) -> None:
    """Ingest's part: of the (store, sku, business day) a pass adds demand to, mark those the
    store's blocks already hold. One small query per pass; inserts only for late days."""
    keys = list(keys)
    stores = sorted({k[0] for k in keys})
    if not stores:
        return
    conn = s.connection()
    q = _Sql(conn)
    sql = (
        "SELECT store_id, through FROM forecast_demand_packed "
        f"WHERE store_id IN ({q.marks(len(stores))})"
    )
    if q.pg:
        sql += " ORDER BY store_id FOR KEY SHARE"  # held to commit: a pack waits for this pass
    through = {r[0]: _as_date(r[1]) for r in conn.exec_driver_sql(sql, tuple(stores))}
    if not through:
        return
    late = sorted({k for k in keys if k[0] in through and k[2] <= through[k[0]]})
    if late:
        conn.exec_driver_sql(
            "INSERT INTO forecast_demand_late (store_id, sku, day) "
            f"VALUES ({q.marks(3)}) ON CONFLICT DO NOTHING",
            [(st, sku, q.date(d)) for st, sku, d in late],
        )


class _Series:
    """Rows of (store, sku, days, nets) with days and nets as comma-joined strings (the database
    aggregates): every row's days and nets end to end, and how many each row has."""

    def __init__(self, rows: list[Any]) -> None:
        self.keys = [(r[0], r[1]) for r in rows]
        self.counts, self.days = _lists([r[2] for r in rows])
        _, self.nets = _lists([r[3] for r in rows])


def _lists(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Comma-joined integers, a list per row: how many each row has, and all of them end to
    end (numpy parses them in C, one Python step a row)."""
    if not texts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    counts = np.array([t.count(",") + 1 for t in texts], dtype=np.int64)
    return counts, np.fromstring(",".join(texts), dtype=np.int64, sep=",")


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """The driver's tuples as they are (SQLAlchemy's Row per row cost more than the query)."""
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        cur.close()


def _keyed(stores: list[str], skus: list[str]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The sorted distinct (store, sku) of two parallel columns and each row's place among
    them: numpy sorts the strings (code point order, as Python does), no Python step a row."""
    if not skus:
        return [], np.zeros(0, dtype=np.int64)
    store_u, store_i = np.unique(np.array(stores, dtype=str), return_inverse=True)
    sku_u, sku_i = np.unique(np.array(skus, dtype=str), return_inverse=True)
    pairs, at = np.unique(store_i * len(sku_u) + sku_i, return_inverse=True)
    store_names, sku_names = store_u.tolist(), sku_u.tolist()
    keys = [(store_names[p // len(sku_u)], sku_names[p % len(sku_u)]) for p in pairs.tolist()]
    return keys, at.astype(np.int64)


def _throughs(conn: Connection, stores: list[str]) -> dict[str, date]:
    """The packed stores' `through` among `stores` (a store never packed has none)."""
    q = _Sql(conn)
    rows = conn.exec_driver_sql(
        "SELECT store_id, through FROM forecast_demand_packed"
        f" WHERE store_id IN ({q.marks(len(stores))})",
        tuple(stores),
    )
    return {r[0]: _as_date(r[1]) for r in rows}


def _raw(
    conn: Connection,
    stores: list[str] | None,
    first: date,
    until: date,
    through: dict[str, date] | None,
) -> list[Any]:
    """Per store × SKU, the days and net quantities of `stock_daily_demand` between `first`
    and `until` that the blocks lack: those after the store's `through` (every day of a store
    never packed), and the late days, as separate rows.

    With the stores named (and their `through`), each store's days are one range of the index
    (store, day) from the day after its `through`: the two years before it, which the daily
    rows keep as the truth, are not walked (they were, every night: ~1.5 s a store of 2,000
    SKUs, in the pack and again in the read). Every store (`stores` None, the chain's
    backtest) filters each row of the range against the store's `through`."""
    q = _Sql(conn)
    net = "d.sold_milli - d.refunded_milli"
    where = f"d.day >= {q.mark} AND d.day <= {q.mark}"
    params: tuple[Any, ...] = (q.date(first), q.date(until))
    if stores is not None:
        where += f" AND d.store_id IN ({q.marks(len(stores))})"
        params += tuple(stores)
    cols = f"d.store_id, d.sku, {q.agg(q.day('d.day'), 'd.day')}, {q.agg(net, 'd.day')}"
    group = " GROUP BY d.store_id, d.sku"
    # the few late marks lead, each daily row looked up by its key (SQLite keeps a CROSS
    # JOIN's order; with a JOIN it walked the store's daily rows and looked the marks up)
    late = (
        f"SELECT {cols} FROM forecast_demand_late l CROSS JOIN stock_daily_demand d"
        " WHERE d.store_id = l.store_id AND d.sku = l.sku AND d.day = l.day"
        f" AND {where.replace('d.', 'l.')}{group}"
    )
    rows = list(conn.exec_driver_sql(late, params))
    if stores is None or through is None:
        fresh = (
            f"SELECT {cols} FROM stock_daily_demand d LEFT JOIN forecast_demand_packed p"
            f" ON p.store_id = d.store_id WHERE {where}"
            " AND (p.through IS NULL OR d.day > p.through)" + group
        )
        return list(conn.exec_driver_sql(fresh, params)) + rows
    fresh = (  # SQLite would walk the primary key (store, sku, day) for the GROUP BY's order
        f"SELECT {cols} FROM stock_daily_demand d{q.indexed('ix_stock_daily_demand_store_day')}"
        f" WHERE d.store_id = {q.mark} AND d.day >= {q.mark} AND d.day <= {q.mark}{group}"
    )
    out: list[Any] = []
    for store in stores:
        since = max(first, through[store] + timedelta(days=1)) if store in through else first
        if since <= until:
            out += conn.exec_driver_sql(fresh, (store, q.date(since), q.date(until)))
    return out + rows


def read(
    conn: Connection, stores: list[str] | None, first: date, until: date
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Net demand per store × SKU (sorted) × day from `first` to `until`, int64 milli-units:
    the blocks, then what `stock_daily_demand` holds that they do not."""
    q = _Sql(conn)
    # `through` before the blocks: a pack committed in between leaves days read twice (the
    # daily rows, the truth, written over the blocks), never days missed
    through = _throughs(conn, stores) if stores is not None else None
    d0, n_days = day_number(first), (until - first).days + 1
    b0, b1 = d0 // BLOCK_DAYS, day_number(until) // BLOCK_DAYS
    sql = (  # a row per store × SKU, not per block: ~2,000 rows a store, not ~24 k
        f"SELECT store_id, sku, {q.agg('block', 'block')}, {q.blobs('net', 'block')}"
        f" FROM forecast_demand_blocks WHERE block >= {q.mark} AND block <= {q.mark}"
    )
    params: tuple[Any, ...] = (b0, b1)
    if stores is not None:
        sql += f" AND store_id IN ({q.marks(len(stores))})"
        params += tuple(stores)
    series = _fetch(conn, sql + " GROUP BY store_id, sku", params)
    raw = _Series(_raw(conn, stores, first, until, through))
    keys, at = _keyed(
        [r[0] for r in series] + [k[0] for k in raw.keys],
        [r[1] for r in series] + [k[1] for k in raw.keys],
    )
    out = np.zeros((len(keys), n_days), dtype=np.int64)
    if series:
        counts, blocks = _lists([r[2] for r in series])
        data = np.frombuffer(b"".join([r[3] for r in series]), dtype="<i8")
        wide = np.zeros((len(keys), b1 - b0 + 1, BLOCK_DAYS), dtype=np.int64)
        wide[np.repeat(at[: len(series)], counts), blocks - b0] = data.reshape(-1, BLOCK_DAYS)
        off = d0 - b0 * BLOCK_DAYS
        out[:] = wide.reshape(len(keys), -1)[:, off : off + n_days]
    # the days after `through` and the late days, over the blocks
    out[np.repeat(at[len(series) :], raw.counts), raw.days - d0] = raw.nets
    return keys, out


def pack(s: Session, store: str, until: date) -> int:
    """Fold the store's days up to `until` that the blocks lack (those after `through`, the late
    ones) into them; returns how many blocks were written. In the caller's transaction."""
    conn = s.connection()
    q = _Sql(conn)
    conn.exec_driver_sql(
        "INSERT INTO forecast_demand_packed (store_id, through) "
        f"VALUES ({q.marks(2)}) ON CONFLICT DO NOTHING",
        (store, q.date(NEVER)),
    )
    lock = f"SELECT through FROM forecast_demand_packed WHERE store_id = {q.mark}"
    through = _as_date(
        conn.exec_driver_sql(lock + (" FOR UPDATE" if q.pg else ""), (store,)).one()[0]
    )
    raw = _Series(_raw(conn, [store], EPOCH, until, {store: through}))
    written = 0
    if raw.keys:
        sku_u, sku_row = np.unique(
            np.array([k[1] for k in raw.keys], dtype=str), return_inverse=True
        )
        sku_i = np.repeat(sku_row.astype(np.int64), raw.counts)  # each day's SKU
        pairs, inv = np.unique(sku_i * (1 << 32) + raw.days // BLOCK_DAYS, return_inverse=True)
        blocks = np.zeros((len(pairs), BLOCK_DAYS), dtype=np.int64)
        blk_of = pairs & 0xFFFFFFFF
        have = _fetch(  # the blocks these days fall in, as they are
            conn,
            "SELECT sku, block, net FROM forecast_demand_blocks"
            f" WHERE store_id = {q.mark} AND block >= {q.mark} AND block <= {q.mark}",
            (store, int(blk_of.min()), int(blk_of.max())),
        )
        if have:
            sku_h, blk_h, blob_h = zip(*have, strict=True)
            # each block read's place among `pairs` (one of a SKU or block not written: none)
            names = np.array(sku_h, dtype=str)
            i = np.minimum(np.searchsorted(sku_u, names), len(sku_u) - 1)
            want = i * (1 << 32) + np.array(blk_h, dtype=np.int64)
            j = np.minimum(np.searchsorted(pairs, want), len(pairs) - 1)
            placed = (sku_u[i] == names) & (pairs[j] == want)
            data = np.frombuffer(b"".join(blob_h), dtype="<i8").reshape(-1, BLOCK_DAYS)
            blocks[j[placed]] = data[placed]
        blocks[inv, raw.days % BLOCK_DAYS] = raw.nets
        skus = sku_u.tolist()
        write_blocks(s, store, [skus[p >> 32] for p in pairs.tolist()], blk_of, blocks)
        written = len(pairs)
    conn.exec_driver_sql(f"DELETE FROM forecast_demand_late WHERE store_id = {q.mark}", (store,))
    if until > through:
        conn.exec_driver_sql(
            f"UPDATE forecast_demand_packed SET through = {q.mark} WHERE store_id = {q.mark}",
            (q.date(until), store),
        )
    return written


_UPSERT = (
    "INSERT INTO forecast_demand_blocks (store_id, sku, block, net) {} "
    "ON CONFLICT (store_id, sku, block) DO UPDATE SET net = excluded.net"
)


def write_blocks(
    s: Session, store: str, skus: list[str], blocks: np.ndarray, data: np.ndarray
) -> None:
    """Write (or replace) the store's blocks: per row a SKU, its block number and the
    BLOCK_DAYS quantities. `pack`'s last step; the bench lays a chain's history down with it."""
    conn = s.connection()
    q = _Sql(conn)
    blobs = [r.astype("<i8").tobytes() for r in data]
    if q.pg:  # one statement, arrays (executemany costs a pipeline round per row)
        conn.exec_driver_sql(
            _UPSERT.format("SELECT %s, * FROM unnest(%s::varchar[], %s::int[], %s::bytea[])"),
            (store, skus, [int(b) for b in blocks], blobs),
        )
        return
    conn.exec_driver_sql(
        _UPSERT.format("VALUES (?, ?, ?, ?)"),
        [(store, sku, int(b), blob) for sku, b, blob in zip(skus, blocks, blobs, strict=True)],
    )
