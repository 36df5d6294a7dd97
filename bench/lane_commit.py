"""Lane commit latency: a sale POSTed to a real gateway's lane API until its 201 (journal
COMMIT with synchronous=FULL behind it), against a raw SQLite synchronous=FULL commit of a row
of the same size on the same disk, measured in the same run.

    python bench/lane_commit.py [N]
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import mosquitto, pct, sale_envelope
from edge.journal import Journal
from rig import Edge, sale_body

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


class RawJournal:
    """The floor: one row of the same size, BEGIN IMMEDIATE / INSERT / COMMIT, WAL + FULL."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, envelope TEXT)"
        )
        self.row = json.dumps(sale_envelope(1), ensure_ascii=False)
        self.n = 0

    def commit(self) -> float:
        self.n += 1
        t = time.perf_counter()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO events VALUES (?, ?, ?)", (self.n, f"id{self.n}", self.row))
        self.conn.execute("COMMIT")
        return time.perf_counter() - t


def main() -> None:
    body = json.dumps(sale_body(1), ensure_ascii=False).encode()
    lane: list[float] = []
    raw: list[float] = []
    journal_only: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        broker = mosquitto(Path(d))
        edge = Edge(Path(d) / "edge", "b1", "g1", broker.url)
        edge.start()
        floor = RawJournal(Path(d) / "raw.db")
        journal = Journal(Path(d) / "journal.db", "b1", "g1")
        env_body = sale_envelope(1)["body"]
        try:
            # interleaved, so both see the same disk and the same machine load
            for i in range(N + 50):
                t = time.perf_counter()
                r = edge.http.post(
                    "/api/lanes/1/sales",
                    content=body,
                    headers={"Content-Type": "application/json", "Idempotency-Key": f"b{i}"},
                )
                took = time.perf_counter() - t
                assert r.status_code == 201, r.text
                base = floor.commit()
                t = time.perf_counter()
                journal.record("sale.completed", lambda env: env_body, client_ref=f"j{i}")
                own = time.perf_counter() - t
                if i >= 50:  # the first ones warm up connections and code
                    lane.append(took)
                    raw.append(base)
                    journal_only.append(own)
        finally:
            edge.stop()
            broker.stop()
    print(f"{N} commits each, interleaved; the lane figure is the whole HTTP round trip")
    for name, p in (("p50", 50), ("p99", 99)):
        ours, floor_ms = pct(lane, p) * 1000, pct(raw, p) * 1000
        own = pct(journal_only, p) * 1000
        print(
            f"{name}: lane API {ours:7.3f} ms   journal.record alone {own:7.3f} ms   "
            f"raw SQLite FULL commit {floor_ms:7.3f} ms   lane/raw {ours / floor_ms:5.2f}x   "
            f"journal/raw {own / floor_ms:5.2f}x"
        )


if __name__ == "__main__":
    main()
