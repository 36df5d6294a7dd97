"""A pyserial port run by the event loop: the port is non-blocking, bytes arrive through
`loop.add_reader`, and a lost link (unplugged, EIO) resolves `lost` so the supervisor notices
at once.

Seven-bit protocols (7E1, 7O1): a real UART strips the parity bit on input and makes it on
output; a pty does neither, so the port does both itself. That is harmless on a real UART (it
sends only 7 data bits and delivers 7) and lets a pty simulator show a 7E1 ↔ 8N1 mismatch."""

from __future__ import annotations

import asyncio
import os
import termios
from collections.abc import Callable

import serial

from edge.devices.profiles import SerialSettings

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


def parity_table(parity: str) -> bytes:
    """Translation table putting the parity bit of the low 7 bits into bit 7."""
    out = bytearray(256)
    for b in range(256):
        low = b & 0x7F
        ones = bin(low).count("1")
        bit = ones % 2 if parity == "E" else (ones + 1) % 2 if parity == "O" else 0
        out[b] = low | (bit << 7)
    return bytes(out)


STRIP_BIT7 = bytes(b & 0x7F for b in range(256))


class SerialPort:
    def __init__(self, path: str, settings: SerialSettings, on_data: Callable[[bytes], None]):
        self.path = path
        self.settings = settings
        self.on_data = on_data
        self._serial: serial.Serial | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.lost: asyncio.Future[None] | None = None
        seven = settings.bytesize == 7
        self._in = STRIP_BIT7 if seven else None
        self._out = parity_table(settings.parity) if seven and settings.parity != "N" else None

    def open(self) -> None:
        s = self.settings
        # a pty has no UART: Linux refuses or ignores 7-bit and parity modes on it, and the
        # 7-bit framing is done above anyway, so a pty is always opened 8N1
        pty = os.path.realpath(self.path).startswith("/dev/pts/")
        ser = serial.Serial()
        ser.port = self.path
        ser.baudrate = s.baudrate
        ser.bytesize = serial.SEVENBITS if s.bytesize == 7 and not pty else serial.EIGHTBITS
        ser.parity = serial.PARITY_NONE if pty else _PARITY[s.parity]
        ser.stopbits = serial.STOPBITS_TWO if s.stopbits == 2 else serial.STOPBITS_ONE
        ser.timeout = 0
        ser.exclusive = True  # one driver per port: discovery never probes a port in use
        try:
            ser.open()
        except (serial.SerialException, termios.error, ValueError) as err:
            raise OSError(f"cannot open {self.path} as {s.describe()}: {err}") from err
        self._serial = ser
        self._loop = asyncio.get_running_loop()
        self.lost = self._loop.create_future()
        self._loop.add_reader(ser.fileno(), self._readable)

    def _readable(self) -> None:
        assert self._serial is not None
        try:
            data = os.read(self._serial.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError as err:
            self._lose(err)
            return
        if not data:
            self._lose(OSError(f"{self.path}: end of file"))
            return
        self.on_data(data.translate(self._in) if self._in else data)

    def _lose(self, err: OSError) -> None:
        if self._loop and self._serial:
            self._loop.remove_reader(self._serial.fileno())
        if self.lost and not self.lost.done():
            self.lost.set_exception(OSError(f"{self.path} disconnected: {err}"))
            self.lost.exception()  # retrieved here so an unawaited loss is not reported

    def write(self, data: bytes) -> None:
        if self._serial is None or (self.lost and self.lost.done()):
            raise OSError(f"{self.path} is not open")
        if self._out:
            data = data.translate(self._out)
        try:
            os.write(self._serial.fileno(), data)
        except OSError as err:
            self._lose(err)
            raise OSError(f"{self.path}: write failed: {err}") from err

    @property
    def is_open(self) -> bool:
        return self._serial is not None and not (self.lost and self.lost.done())

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is None:
            return
        if self._loop:
            self._loop.remove_reader(ser.fileno())
        try:
            ser.close()
        except (OSError, serial.SerialException):
            pass
        if self.lost and not self.lost.done():
            self.lost.cancel()
