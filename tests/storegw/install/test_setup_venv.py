"""`deploy/setup.sh` (what the README's two commands run first) installs into the project's own
`.venv`, never into the python3 it was started with, and reuses that venv on the next run; the
test and demo scripts and CI run from it. Runs setup.sh for real on a copy of the checkout.

The copy's `.venv` is made here first, seeing this interpreter's packages, so that setup.sh
installs only storegw itself instead of downloading every dependency (minutes on a loaded
machine); making the venv from nothing is what every CI run on a fresh clone does."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[3]


def setup(src: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", "deploy/setup.sh"], cwd=src, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_setup_makes_and_reuses_the_project_venv(tmp_path: Path) -> None:
    src = tmp_path / "storegw"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
    ))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    venv.EnvBuilder(with_pip=True).create(src / ".venv")
    (site_dir,) = (src / ".venv").glob("lib/python3*/site-packages")
    (site_dir / "deps-from-the-test.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    setup(src, env)
    py = src / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(py), "-c", "import sys, hub, pytest, msgspec; print(sys.prefix); print(hub.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert where == [str(src / ".venv"), str(src / "hub" / "__init__.py")]  # editable, its own
    made = (src / ".venv" / "pyvenv.cfg").stat().st_mtime_ns
    stamp = (src / ".venv" / ".storegw-installed").stat().st_mtime_ns
    setup(src, env)  # again: the same venv, nothing reinstalled
    assert (src / ".venv" / "pyvenv.cfg").stat().st_mtime_ns == made
    assert (src / ".venv" / ".storegw-installed").stat().st_mtime_ns == stamp
    system = subprocess.run(
        ["python3", "-m", "pip", "show", "-f", "storegw"], env=env, capture_output=True, text=True
    ).stdout
    assert str(src) not in system, "setup.sh installed into the python3 it was started with"
    # the scripts run from it; git ignores it
    for script in ("deploy/test.sh", "deploy/demo.sh"):
        assert ".venv/bin/python -m" in (src / script).read_text(), script
    assert "deploy/test.sh" in (src / ".ci" / "run").read_text()
    assert ".venv/" in (src / ".gitignore").read_text().split()
