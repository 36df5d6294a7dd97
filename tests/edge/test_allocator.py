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


def test_the_free_heap_goes_back_to_the_system() -> None:
    # 20 MiB in 64 KiB blocks (under the mmap threshold: from the heap), freed: malloc_trim
    # must report pages released, and the process's resident size must drop
    code = (
        "from edge.allocator import unmap_big_buffers, give_back\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'): return int(line.split()[1])\n"
        "unmap_big_buffers()\n"
        "blocks = [bytearray(b'x' * 65536) for _ in range(320)]\n"
        "del blocks[:-1]\n"  # the last one pins the heap's top: only trimming gives pages back
        "before = rss(); released = give_back(); after = rss()\n"
        "print(released, before - after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)  # fmt: skip
    released, kib = out.stdout.split()
    assert released == "True" and int(kib) > 10 * 1024, out.stdout
