"""How the gateway's process gives memory back to the system, set early in `storegw edge`.

- The mmap threshold. glibc serves a request of at least its mmap threshold (128 KiB) with a
  mapping of its own, unmapped on free; but by default the threshold rises to the largest block
  freed (up to 32 MiB). The uplink's batches are up to 512 KiB each, 16 in flight: after the
  first ones are freed the threshold sits above them, the next ones come from the heap, and the
  heap stays as large as the largest backlog burst was (about 2 MiB more resident with a
  20,000-event backlog, bench/gateway_memory.py). Fixing the threshold keeps big buffers mapped
  and unmapped.
- Arenas. Every thread that allocates (paho's network loop, asyncio's executor for SQLite and
  files) gets a malloc arena of its own, up to 8 per core, each keeping its freed memory; the
  gateway's threads allocate little, so two arenas serve them all.
- Trimming. Starting leaves freed memory in the heap (module loading, the journal's first
  reads); `give_back` returns the free pages once the gateway is up (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)
M_ARENA_MAX = -8


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def unmap_big_buffers(threshold: int = 128 * 1024, arenas: int = 2) -> bool:
    """Fix glibc's mmap threshold and cap its arenas; False (and nothing changed) on a C library
    without mallopt."""
    libc = _libc()
    try:
        if libc is None:  # not an assert: the gateway runs under -OO (storegw/cli.py)
            raise AttributeError("mallopt")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(
            libc.mallopt(M_ARENA_MAX, arenas)
        )
    except AttributeError:
        log.debug("no mallopt in this C library: the allocator keeps its defaults")
        return False


def give_back() -> bool:
    """Return the heap's free pages to the system (after start-up); False without glibc."""
    libc = _libc()
    try:
        if libc is None:
            raise AttributeError("malloc_trim")
        return bool(libc.malloc_trim(0))
    except AttributeError:
        return False
