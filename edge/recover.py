"""`storegw edge recover --data-dir D`: a journal that fails its integrity check at start is
moved aside (never deleted: it is evidence, and a specialist may get more out of it) and every
row SQLite can still read is copied into a new journal with the same schema. The gateway then
starts on the new file and its uplink sends what was never acknowledged.

Rows are read through each table's own b-tree by rowid, never through an index (a damaged
index is the commonest case and loses nothing); where a table page itself is unreadable the
copy probes rowid by rowid up to the largest one, so only the rows on bad pages are lost, and
they are counted. `last_seq` is kept at least at the highest seq salvaged, so no seq is ever
handed out twice (docs/reliability.md, scenario 5)."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from protocols.envelope import utc_now


@dataclass
class Salvage:
    damaged: Path  # where the damaged file now lies
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    unreadable: dict[str, int] = field(default_factory=dict)  # table -> rowids lost
    missing_seqs: list[int] = field(default_factory=list)  # journal events not salvaged

    def report(self) -> str:
        copied = ", ".join(f"{t} {n}" for t, n in sorted(self.rows.items())) or "nothing"
        lost = ", ".join(f"{t} {n}" for t, n in sorted(self.unreadable.items()) if n) or "none"
        seqs = self.missing_seqs
        gaps = f"; events lost: {len(seqs)} (seq {seqs[0]}..{seqs[-1]})" if seqs else ""
        return (
            f"salvaged rows: {copied}; unreadable rows: {lost}{gaps}; damaged file: {self.damaged}"
        )


def _copy_table(
    src: sqlite3.Connection, dst: sqlite3.Connection, table: str, sql: str
) -> tuple[int, int]:
    cols = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]
    has_rowid = "WITHOUT ROWID" not in sql.upper()
    names = (["rowid"] if has_rowid else []) + [f'"{c}"' for c in cols]
    insert = (
        f'INSERT OR IGNORE INTO "{table}"({", ".join(names)}) '
        f"VALUES ({', '.join('?' * len(names))})"
    )
    select = f'SELECT {"rowid, " if has_rowid else ""}* FROM "{table}"'
    if not has_rowid:  # keyed by its primary key alone: what one scan reads is what we get
        copied = 0
        try:
            for row in src.execute(select):
                dst.execute(insert, row)
                copied += 1
        except sqlite3.DatabaseError:
            pass
        return copied, 0
    copied = lost = 0
    last = None
    try:  # the fast path: one scan of the table b-tree
        for row in src.execute(f"{select} ORDER BY rowid"):
            dst.execute(insert, row)
            copied += 1
            last = row[0]
        return copied, 0
    except sqlite3.DatabaseError:
        pass
    try:
        top = src.execute(f'SELECT max(rowid) FROM "{table}"').fetchone()[0]
    except sqlite3.DatabaseError:
        top = None
    rowid = (last or 0) + 1
    misses = 0  # without a readable max(rowid): give up after this many rowids in a row
    while (rowid <= top) if top is not None else misses < 10_000:  # past a bad page: row by row
        try:
            row = src.execute(f"{select} WHERE rowid=?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            lost += 1
            misses += 1
        else:
            if row:
                dst.execute(insert, row)
                copied += 1
                misses = 0
            else:
                misses += 1
        rowid += 1
    return copied, lost


def recover(data_dir: Path) -> Salvage:
    path = data_dir / "journal.db"
    if not path.exists():
        raise FileNotFoundError(f"no journal at {path}")
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    aside = data_dir / f"journal.db.damaged-{stamp}"
    for suffix in ("", "-wal", "-shm"):  # the WAL holds committed rows too: keep it with it
        if (data_dir / f"journal.db{suffix}").exists():
            shutil.move(data_dir / f"journal.db{suffix}", f"{aside}{suffix}")
    out = Salvage(aside)
    new = data_dir / "journal.db.recovering"
    new.unlink(missing_ok=True)
    src = sqlite3.connect(aside)
    dst = sqlite3.connect(new, isolation_level=None)
    try:
        src.execute("PRAGMA writable_schema=ON")  # read a schema SQLite would refuse to load
        tables = src.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        indexes = src.execute(
            "SELECT sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
        ).fetchall()
        dst.execute("BEGIN")
        for name, sql in tables:
            dst.execute(sql)
            out.rows[name], out.unreadable[name] = _copy_table(src, dst, name, sql)
        for (sql,) in indexes:  # rebuilt from the rows, not copied
            dst.execute(sql)
        if any(name == "events" for name, _ in tables):
            seqs = [r[0] for r in dst.execute("SELECT seq FROM events ORDER BY seq")]
            top = max(
                [
                    *seqs,
                    *(
                        int(r[0])
                        for r in dst.execute("SELECT value FROM meta WHERE key='last_seq'")
                    ),
                ],
                default=0,
            )
            dst.execute(
                "INSERT INTO meta(key, value) VALUES('last_seq', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(top),),
            )
            acked = int(
                (dst.execute("SELECT value FROM meta WHERE key='last_acked'").fetchone() or ("0",))[
                    0
                ]
            )
            have = set(seqs)
            first = seqs[0] if seqs else top + 1
            # rows below the first salvaged one may simply have been pruned after their ack
            out.missing_seqs = [s for s in range(max(first, acked + 1), top + 1) if s not in have]
        dst.execute("COMMIT")
        problems = [r[0] for r in dst.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise RuntimeError(f"the salvaged journal fails its check: {problems[:5]}")
    finally:
        src.close()
        dst.close()
    new.replace(path)
    return out


def main(argv: list[str]) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="storegw edge recover", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True)
    args = p.parse_args(argv)
    try:
        print(recover(Path(args.data_dir)).report(), flush=True)
    except (FileNotFoundError, RuntimeError) as err:
        raise SystemExit(f"storegw edge recover: {err}") from err
