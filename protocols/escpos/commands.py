"""ESC/POS commands a driver sends outside a rendered receipt (receipt.py builds those), as
bytes: the driver only writes them."""

from __future__ import annotations

DLE, DC4, ESC = 0x10, 0x14, 0x1B

# DLE DC4 8 (fn 8, the fixed "clear" key 1 3 20 1 6 2 8): the printer drops what it holds but has
# not printed, so a job sent again after a fault is not printed twice
CLEAR_BUFFER = bytes((DLE, DC4, 0x08, 0x01, 0x03, 0x14, 0x01, 0x06, 0x02, 0x08))


def _pin(pin: int) -> int:
    """Connector pin 2 is m=0, pin 5 is m=1."""
    return 0 if pin == 2 else 1


def realtime_drawer_pulse(pin: int, pulse_ms: int) -> bytes:
    """DLE DC4 1 m t: done on receipt, so the drawer opens even with the paper out; t in 100 ms."""
    t = max(1, min(8, pulse_ms // 100))
    return bytes((DLE, DC4, 0x01, _pin(pin), t))


def drawer_pulse(pin: int, pulse_ms: int) -> bytes:
    """ESC p m t1 t2: the buffered kick (serial drawer triggers open on it); t in 2 ms units."""
    t = max(1, min(255, pulse_ms // 2))
    return bytes((ESC, 0x70, _pin(pin), t, t))
