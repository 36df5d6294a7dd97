"""The simulators' temporary folders: the aggregator simulator's (`aggsim-*`, which held its
private key) is gone when it stops, and `storegw sim` stopped with Ctrl-C leaves nothing in
the temporary folder."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edge.sim.aggregator import AggregatorSim


def test_the_aggregator_sim_keeps_no_key_on_disk_and_removes_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    async def main() -> None:
        sim = AggregatorSim()
        await sim.start(tls=True)
        try:
            (folder,) = tmp_path.glob("aggsim-*")
            assert [p.name for p in folder.iterdir()] == ["aggregator.pem"]  # no .key
            assert Path(sim.ca_file).parent == folder
        finally:
            await sim.stop()
        assert list(tmp_path.iterdir()) == []

    asyncio.run(main())


def test_storegw_sim_stopped_with_ctrl_c_leaves_no_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storegw.cli", "sim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1",
             "STOREGW_SIM_DIR": str(tmp_path / "receipts")},
        start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.decode())
            if "simulators running" in lines[-1]:
                break
        assert any("aggregator CA file" in x for x in lines), "".join(lines)
        assert list(tmp.glob("aggsim-*")), "the aggregator's CA file lives in the tmp folder"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, "".join(lines)
    assert list(tmp.iterdir()) == [], "".join(lines)
