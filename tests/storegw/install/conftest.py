"""One wheel for the whole test session: built once from a copy of this checkout (so the
checkout stays clean) and shared by the install tests, across xdist workers too."""

from __future__ import annotations

import fcntl
import shutil
import sys
from pathlib import Path

import pytest

from tests.storegw.install.installing import ROOT, clean_env, run


def _build(where: Path) -> Path:
    dist, src = where / "dist", where / "src"
    if not (built := sorted(dist.glob("storegw-*.whl"))):
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
            ".hypothesis", "artifacts",
        ))  # fmt: skip
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
            where, clean_env())  # fmt: skip
        built = sorted(dist.glob("storegw-*.whl"))
    (wheel,) = built
    return wheel


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The built wheel. Under xdist the workers share the run's base temp directory and the
    first to take the lock builds; the others find the wheel there."""
    if worker_id == "master":
        return _build(tmp_path_factory.mktemp("wheel"))
    shared = tmp_path_factory.getbasetemp().parent / "storegw-wheel"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(shared)
