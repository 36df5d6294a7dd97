"""What the install tests share: running a command, serving `storegw` from a virtual
environment until it reports its port, and the environment without this checkout on the path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from rig.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


def clean_env() -> dict[str, str]:
    """This process's environment without the checkout on the path, with known tokens."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STOREGW_PROFILES")}
    env["STOREGW_EDGE_TOKEN"] = env["STOREGW_HUB_TOKEN"] = "t0ken"
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def serve(bin_dir: Path, args: list[str], where: Path, env: dict[str, str]) -> tuple[int, Any]:
    port_file = where / "port"
    log = open(where / "log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [str(bin_dir / "storegw"), *args, "--listen", "127.0.0.1:0", "--port-file", str(port_file)],
        cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def died() -> str | None:
        return None if proc.poll() is None else (where / "log").read_text()

    wait_until(port_file.exists, 60, what="the port file", abort=died)
    return int(port_file.read_text()), proc
