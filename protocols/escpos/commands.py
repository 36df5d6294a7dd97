"""ESC/POS commands as bytes: those a driver sends outside a rendered receipt, and the few a
receipt needs besides its text (style, CODE128 barcode, native QR code, cut), which python-escpos
wrote before: the same bytes, without loading python-escpos and the image stack it imports
(~15 MiB) in the gateway to format a dozen bytes. tests/printing/test_commands.py checks them
against python-escpos."""

from __future__ import annotations

DLE, DC4, ESC, GS = 0x10, 0x14, 0x1B, 0x1D
ALIGN = {"left": 0, "center": 1, "right": 2}


def style(align: str = "left", *, bold: bool = False, tall: bool = False) -> bytes:
    """ESC ! (double height or normal), ESC E (bold), ESC a (alignment). The size is always set,
    so a line after a tall one is normal again."""
    return bytes((ESC, 0x21, 0x10 if tall else 0, ESC, 0x45, int(bold), ESC, 0x61, ALIGN[align]))


def code128(data: str, *, height: int = 60, width: int = 2) -> bytes:
    """A centred CODE128 (code set B) barcode printed by the printer (GS k 73), its text below in
    font A."""
    payload = ("{B" + data).encode("ascii", "strict")
    if len(payload) > 255 or not all(32 <= b < 127 for b in payload[2:]):
        raise ValueError(f"not a CODE128-B barcode: {data!r}")
    return (
        bytes((ESC, 0x61, 1, GS, 0x68, height, GS, 0x77, width, GS, 0x66, 0, GS, 0x48, 2))
        + bytes((GS, 0x6B, 73, len(payload)))
        + payload
    )


def _qr_function(fn: int, data: bytes) -> bytes:
    n = len(data) + 2  # cn fn
    return bytes((GS, 0x28, 0x6B, n & 0xFF, n >> 8, 0x31, fn)) + data


def qr(data: str, *, size: int = 5) -> bytes:
    """A QR code drawn by the printer (GS ( k): model 2, module size, error correction L, store
    the data (UTF-8), print."""
    content = data.encode("utf-8")
    if len(content) > 7089:
        raise ValueError("QR data too long")
    return (
        _qr_function(0x41, bytes((0x32, 0)))
        + _qr_function(0x43, bytes((size,)))
        + _qr_function(0x45, b"0")
        + _qr_function(0x50, b"0" + content)
        + _qr_function(0x51, b"0")
    )


def cut(*, full: bool = False) -> bytes:
    """Feed six lines past the cutter (ESC d 6), then a full or partial cut (GS V)."""
    return bytes((ESC, 0x64, 6, GS, 0x56, 0 if full else 1))


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
