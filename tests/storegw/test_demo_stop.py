"""`storegw demo` stopped with SIGINT twenty times in a row, as a terminal's Ctrl-C does (to
the demo's whole process group), at every stage: while the broker and hub start, while members
are being registered, and while the stores sell. Each time it must end by itself within the
timeout, print its final table while selling (the hub still answers), and leave no process and
no folder behind (its own `storegw-demo-*`, nor python-escpos's cache folders)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until

# twenty demos of a few seconds each; a loaded machine takes minutes
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

RUNS = 20


class Demo:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "storegw.cli", "demo", "--stores", "1", "--members", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # a terminal of its own: SIGINT goes to the group
        )
        self.out: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.out.append(raw.decode("utf-8", "replace"))

    def text(self) -> str:
        return "".join(self.out)

    def died(self) -> str | None:
        return f"demo exited with {self.proc.returncode}" if self.proc.poll() is not None else None

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)


def processes_under(folder: Path) -> list[str]:
    """Every live process whose command line names something in `folder`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


def test_ctrl_c_twenty_times_never_hangs_and_leaves_nothing(tmp_path: Path) -> None:
    stages = ("starting", "members", "selling", "selling")
    took: list[float] = []  # from Ctrl-C to the demo's exit
    for run in range(RUNS):
        tmp = tmp_path / f"run{run}"
        tmp.mkdir()
        demo = Demo(tmp)
        stage = stages[run % len(stages)]
        try:
            wait_until(lambda d=demo: "starting a demo chain" in d.text(), 60, abort=demo.died)
            if stage == "members":  # the hub is up; the demo registers members through its API
                wait_until(lambda t=tmp: list(t.glob("storegw-demo-*/hub.port")), 60,
                           abort=demo.died)  # fmt: skip
            elif stage == "selling":
                wait_until(
                    lambda d=demo: "Ctrl-C stops everything" in d.text(),
                    90,
                    what="the first table",
                    abort=demo.died,
                )
            demo.ctrl_c()
            signalled = time.monotonic()
            rc = demo.proc.wait(60)  # a hang fails here
            took.append(time.monotonic() - signalled)
        finally:
            if demo.proc.poll() is None:
                os.killpg(demo.proc.pid, signal.SIGKILL)
                demo.proc.wait()
        demo.reader.join(10)
        out = demo.text()
        assert rc == 0, f"run {run} ({stage}): exit {rc}\n{out}"
        assert out.rstrip().endswith("demo stopped."), f"run {run} ({stage}):\n{out}"
        if stage == "selling":
            final = out.split("final:\n", 1)[-1]
            assert "final:" in out and "hub sales" in final, f"run {run}:\n{out}"
            assert "not answering" not in final, f"run {run}: hub gone before the table\n{out}"
            assert "loyalty issues 0" in final, f"run {run}:\n{out}"
        assert processes_under(tmp) == [], f"run {run} ({stage}) left processes behind"
        assert list(tmp.iterdir()) == [], f"run {run} ({stage}) left {list(tmp.iterdir())}"
    print(f"{RUNS} Ctrl-C: stopped in {min(took):.1f}-{max(took):.1f} s, median "
          f"{sorted(took)[RUNS // 2]:.1f} s")  # fmt: skip
