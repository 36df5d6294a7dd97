"""How the gateway's process gives memory back to the system after a burst.

glibc serves a request of at least its mmap threshold (128 KiB) with a mapping of its own,
unmapped on free; but by default the threshold rises to the largest block freed (up to 32 MiB).
The uplink's batches are up to 512 KiB each, 16 in flight: after the first ones are freed the
threshold sits above them, the next ones come from the heap, and the heap stays as large as the
largest backlog burst was (about 2 MiB more resident with a 20,000-event backlog,
bench/gateway_memory.py). Fixing the threshold keeps big buffers mapped and unmapped."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)


def unmap_big_buffers(threshold: int = 128 * 1024) -> bool:
    """Fix glibc's mmap threshold; False (and nothing changed) on a C library without mallopt."""
    try:
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        log.debug("no mallopt in this C library: the allocator keeps its defaults")
        return False
