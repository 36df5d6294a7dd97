"""The restore drill, with real processes: a gateway is backed up while a burst of sales is
still being rung up, the hub once it holds them all (`storegw edge|hub backup`, both running);
both are restored into new data dirs / a new database, started, and the restored hub holds every
sale while the restored journal numbers its next sales after the seqs the hub holds."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from rig.processes import Broker, Edge, Hub
from rig.waiting import wait_until
from tests.conftest import PG_URL, _pg_admin

BEFORE, DURING, AFTER = 15, 25, 5


def storegw(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "storegw.cli", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _second_database(hub_db_url: str | None) -> str | None:
    if hub_db_url is None:
        return None
    assert PG_URL
    name = f"storegw_restored_{uuid.uuid4().hex[:10]}"
    _pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    return f"{PG_URL.rsplit('/', 1)[0]}/{name}"


@pytest.mark.slow
def test_backup_mid_burst_and_restore(
    tmp_path: Path, broker: Broker, hub_db_url: str | None
) -> None:
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    edge = Edge(tmp_path / "gw", "sh1", "g1", broker.url)
    hub.start()
    edge.start()
    restored_url = _second_database(hub_db_url)
    try:
        assert hub.http.put("/api/stores/sh1", json={"name": "上海一店"}).status_code == 200
        for n in range(BEFORE):
            assert edge.sell(n).status_code == 201
        journal_copy = tmp_path / "gw-backup.db"
        taken: list[str] = []
        args = ("edge", "backup", "--data-dir", str(edge.data_dir), "--to", str(journal_copy))
        backup = threading.Thread(target=lambda: taken.append(storegw(*args)))
        backup.start()  # while the burst goes on
        for n in range(BEFORE, BEFORE + DURING):
            assert edge.sell(n).status_code == 201
        backup.join(120)
        at = json.loads(taken[0])  # where the copy stands: somewhere in the burst
        print(f"journal backed up at seq {at['last_seq']} of {BEFORE + DURING}")
        assert BEFORE <= at["last_seq"] <= BEFORE + DURING
        wait_until(lambda: len(hub.sale_ids("sh1")) == BEFORE + DURING, 60, what="the burst")
        sold = set(hub.sale_ids("sh1"))
        hub_seq = hub.last_seq("sh1", "g1")
        assert hub_seq == edge.journal()["last_seq"] >= BEFORE + DURING

        hub_copy = tmp_path / "hub-backup.bin"
        db_args = ["--database-url", hub_db_url] if hub_db_url else []
        storegw("hub", "backup", "--data-dir", str(hub.data_dir), *db_args, "--to", str(hub_copy))
    finally:
        edge.stop()
        hub.stop()

    new_hub_dir, new_gw_dir = tmp_path / "hub2", tmp_path / "gw2"
    new_db = ["--database-url", restored_url] if restored_url else []
    storegw("hub", "restore", "--from", str(hub_copy), "--data-dir", str(new_hub_dir), *new_db)
    out = storegw(
        "edge", "restore", "--from", str(journal_copy), "--data-dir", str(new_gw_dir),
        "--resume-after", str(hub_seq),
    )  # fmt: skip
    assert json.loads(out)["last_seq"] == hub_seq

    hub2 = Hub(new_hub_dir, broker.url, restored_url)
    edge2 = Edge(new_gw_dir, "sh1", "g1", broker.url)
    hub2.start()
    edge2.start()
    try:
        assert set(hub2.sale_ids("sh1")) == sold  # every sale, from the hub's backup
        assert hub2.last_seq("sh1", "g1") == hub_seq
        for n in range(AFTER):
            assert edge2.sell(100 + n).status_code == 201
        wait_until(lambda: hub2.last_seq("sh1", "g1") == hub_seq + AFTER, 60, what="the new sales")
        assert len(hub2.sale_ids("sh1")) == len(sold) + AFTER
        assert hub2.http.get("/api/ingest/conflicts").json()["conflicts"] == []  # no seq reused
        assert edge2.journal()["last_seq"] == hub_seq + AFTER
    finally:
        edge2.stop()
        hub2.stop()
        if restored_url:
            _pg_admin(
                PG_URL or "",
                f'DROP DATABASE IF EXISTS "{restored_url.rsplit("/", 1)[1]}" WITH (FORCE)',
            )
