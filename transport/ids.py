"""Event and record ids: RFC 9562 UUIDv7, time-ordered and unique without coordination.

Our own rather than the uuid6 package, which imports importlib.metadata at start (about 1 MiB
resident on every gateway, bench/gateway_memory.py); the stdlib has uuid7 from Python 3.14.
Here, not in protocols/: it reads the clock and the system's randomness.

Layout (RFC 9562 section 5.7, counter method 1 of section 6.2): 48 bits of Unix milliseconds,
version 7, then a 42-bit counter (12 bits in rand_a, the top 30 of rand_b) and 32 random bits.
The counter starts at a random value below 2**41 every new millisecond and steps by one within
one, so the ids a process makes sort in the order it made them, even thousands per millisecond
or with the clock set back (the last millisecond is kept until the clock passes it)."""

from __future__ import annotations

import os
import threading
import time

_COUNTER_BITS = 42
_lock = threading.Lock()  # the hub makes ids from its worker threads
_last_ms = -1
_counter = 0


def _reset() -> None:
    """A forked child starts its own sequence (it must not repeat the parent's counter)."""
    global _last_ms, _counter
    _last_ms, _counter = -1, 0


os.register_at_fork(after_in_child=_reset)


def uuid7_int() -> int:
    """The next UUIDv7 as a 128-bit integer."""
    global _last_ms, _counter
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits: a counter seed and the tail
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _counter = ms, rand >> 39  # 41 bits: room to count up within the ms
        else:  # the same millisecond (or the clock went back): count on
            _counter += 1
            if _counter >> _COUNTER_BITS:  # 2**41 ids in one ms: borrow the next ms
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    return (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (counter >> 30) << 64
        | 0b10 << 62
        | (counter & 0x3FFF_FFFF) << 32
        | rand & 0xFFFF_FFFF
    )


def new_id() -> str:
    """A time-ordered UUIDv7 in its canonical text form (lowercase, hyphenated)."""
    h = f"{uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
