"""`storegw edge` fixes glibc's mmap threshold (edge/allocator.py): the call must reach the C
library's mallopt on this platform, not fall back silently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_threshold_is_set_where_glibc_is() -> None:
    # in a process of its own: the test runner's allocator keeps its defaults
    code = "from edge.allocator import unmap_big_buffers; print(unmap_big_buffers())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "True"
