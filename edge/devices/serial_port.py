"""A pyserial port run by the event loop: the port is non-blocking, bytes arrive through
`loop.add_reader`, and a lost link (unplugged, EIO) resolves `lost` so the supervisor notices
at once.

Seven-bit protocols (7E1, 7O1): a real UART makes the parity bit on output and strips it on
input. On a real UART the port does the same in software too (harmless: the UART sends only
7 data bits and delivers 7). A pty has no UART and no wire: what crosses it is what a USB-serial
adapter delivers, plain 7-bit ASCII, so on a pty the port sends plain 7-bit bytes (a Toledo
`W` is 0x57, not 0xD7) and still strips bit 7 of what it reads. A simulator that emulates the
7E1 wire (`ScaleSim(seven_bit="E")`) keeps showing a 7E1 ↔ 8N1 mismatch to a driver set
to 8N1: the driver's check of bit 7 on input is untouched."""

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


def is_pty(path: str) -> bool:
    """A pseudo-terminal (a simulator, socat, a vendor's emulator), not a UART."""
    return os.path.realpath(path).startswith("/dev/pts/")


class SerialPort:
    def __init__(self, path: str, settings: SerialSettings, on_data: Callable[[bytes], None]):
        self.path = path
        self.settings = settings
        self.on_data = on_data
        self._serial: serial.Serial | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.lost: asyncio.Future[None] | None = None
        seven = settings.bytesize == 7
        self.pty = is_pty(path)
        self._in = STRIP_BIT7 if seven else None
        if not seven:
            self._out: bytes | None = None
        elif self.pty or settings.parity == "N":
            self._out = STRIP_BIT7  # plain 7-bit bytes, as a USB-serial adapter hands them over
        else:
            self._out = parity_table(settings.parity)

    def open(self) -> None:
        s = self.settings
        # a pty has no UART: Linux refuses or ignores 7-bit and parity modes on it, so a pty is
        # always opened 8N1 and carries plain 7-bit bytes (see the module's docstring)
        pty = self.pty
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
