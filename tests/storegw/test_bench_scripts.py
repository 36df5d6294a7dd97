"""Every benchmark script still imports against today's code (each in a fresh interpreter):
a bench is run by hand, rarely, and one had rotted on a removed name unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", BENCHES)
def test_the_bench_imports(name: str) -> None:
    code = f"import sys; sys.argv = ['{name}']; import bench.{name}"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
