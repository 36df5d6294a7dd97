"""Barcode scanners, three ways onto the gateway, one lane event per scan:

- `serial`: USB CDC (/dev/ttyACM*) or RS-232 through pyserial; each scan ends with a suffix (CR);
- `keyboard`: a HID keyboard wedge read through evdev and grabbed exclusively, so scans never
  type into the desktop; key codes with shift become characters, Ctrl+] (or Alt + keypad 029)
  becomes GS, and a profile may name a substitute the scanner types for GS instead;
- `hidpos`: HID POS (usage page 0x8C) read from hidraw: reports carry the AIM symbology id and the
  data, and a last byte saying more reports follow.

The decoders are pure (events or report bytes in, scans out) and testable without hardware;
`classify()` then says what was scanned. A payment code goes to the lane as a `paycode` event
(the full code is there for the payment module only) and is logged masked."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import struct
import time
from typing import Any

from edge.devices.base import ConfigurationError, Context, Device, DeviceError, DeviceSpec, driver
from edge.devices.profiles import ProfileError, ScannerProfile, SerialSettings, profiles
from edge.devices.serial_port import SerialPort
from protocols.codes import PaymentScan, Scan, classify
from protocols.codes.variable_measure import Layout

log = logging.getLogger(__name__)

EV_KEY = 0x01
INPUT_EVENT = struct.Struct("llHHi")  # struct input_event: timeval, type, code, value


# --- keyboard wedge -------------------------------------------------------------------------
def _keymap() -> dict[int, tuple[str, str]]:
    from evdev import ecodes as e

    rows = {
        "1234567890": "!@#$%^&*()",
        "qwertyuiop": "QWERTYUIOP",
        "asdfghjkl": "ASDFGHJKL",
        "zxcvbnm": "ZXCVBNM",
    }
    out: dict[int, tuple[str, str]] = {}
    for plain, shifted in rows.items():
        for p, s in zip(plain, shifted, strict=True):
            out[getattr(e, f"KEY_{p.upper()}")] = (p, s)
    for name, pair in {
        "MINUS": ("-", "_"),
        "EQUAL": ("=", "+"),
        "LEFTBRACE": ("[", "{"),
        "RIGHTBRACE": ("]", "}"),
        "SEMICOLON": (";", ":"),
        "APOSTROPHE": ("'", '"'),
        "GRAVE": ("`", "~"),
        "BACKSLASH": ("\\", "|"),
        "COMMA": (",", "<"),
        "DOT": (".", ">"),
        "SLASH": ("/", "?"),
        "SPACE": (" ", " "),
        "TAB": ("\t", "\t"),
        "KPASTERISK": ("*", "*"),
        "KPMINUS": ("-", "-"),
        "KPPLUS": ("+", "+"),
        "KPDOT": (".", "."),
        "KPSLASH": ("/", "/"),
    }.items():
        out[getattr(e, f"KEY_{name}")] = pair
    for d in "0123456789":
        out[getattr(e, f"KEY_KP{d}")] = (d, d)
    return out


class KeyboardWedge:
    """Key events (type, code, value) in, finished scans (text) out, one per Enter."""

    def __init__(self) -> None:
        from evdev import ecodes as e

        self._keys = _keymap()
        self._shift_keys = {e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT}
        self._ctrl_keys = {e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL}
        self._alt_keys = {e.KEY_LEFTALT, e.KEY_RIGHTALT}
        self._enter = {e.KEY_ENTER, e.KEY_KPENTER}
        self._caps = e.KEY_CAPSLOCK
        self._rightbrace = e.KEY_RIGHTBRACE
        self._kp_digits = {getattr(e, f"KEY_KP{d}"): d for d in "0123456789"}
        self.shift = self.ctrl = self.alt = self.caps = False
        self._alt_code = ""
        self._text: list[str] = []

    def feed(self, type_: int, code: int, value: int) -> str | None:
        if type_ != EV_KEY:
            return None
        down = value in (1, 2)  # press or autorepeat
        if code in self._shift_keys:
            self.shift = down
        elif code in self._ctrl_keys:
            self.ctrl = down
        elif code in self._alt_keys:
            self.alt = down
            if not down and self._alt_code:  # Alt + keypad digits: the character with that code
                self._text.append(chr(int(self._alt_code) % 256))
                self._alt_code = ""
        elif code == self._caps and value == 1:
            self.caps = not self.caps
        elif not down:
            return None
        elif code in self._enter:
            text, self._text = "".join(self._text), []
            return text
        elif self.alt and code in self._kp_digits:
            self._alt_code += self._kp_digits[code]
        elif self.ctrl and code == self._rightbrace:
            self._text.append("\x1d")  # Ctrl+] is GS, how wedges type FNC1
        elif code in self._keys:
            plain, shifted = self._keys[code]
            upper = self.shift != (self.caps and plain.isalpha())
            self._text.append(shifted if upper else plain)
        return None


# --- HID POS ----------------------------------------------------------------------------------
class HidPosReports:
    """HID POS input reports in, (AIM id, data) out once the last report of a scan arrived.
    Report: id 0x02, data length, 3 AIM bytes, data …, last byte 1 when more reports follow."""

    REPORT_ID = 0x02

    def __init__(self, report_size: int = 64) -> None:
        self.report_size = report_size
        self._aim = b""
        self._data = bytearray()

    def feed(self, report: bytes) -> tuple[bytes, bytes] | None:
        if len(report) < 6 or report[0] != self.REPORT_ID:
            return None  # another report (attributes, status): not a scan
        length = report[1]
        if length > len(report) - 6:
            raise ValueError(f"HID POS report says {length} data bytes in {len(report)} bytes")
        if not self._data:
            self._aim = bytes(report[2:5])
        self._data += report[5 : 5 + length]
        if report[-1] == 0x01:
            return None
        data, self._data = bytes(self._data), bytearray()
        return self._aim, data


def hidpos_report(aim: bytes, data: bytes, more: bool = False, size: int = 64) -> bytes:
    """Build one report (for simulators and tests)."""
    room = size - 6
    if len(data) > room:
        raise ValueError(f"at most {room} data bytes per report")
    body = bytes([HidPosReports.REPORT_ID, len(data)]) + aim[:3].ljust(3, b"\0") + data
    return body.ljust(size - 1, b"\0") + bytes([1 if more else 0])


def hidpos_reports(aim: bytes, data: bytes, size: int = 64) -> list[bytes]:
    room = size - 6
    chunks = [data[i : i + room] for i in range(0, len(data), room)] or [b""]
    return [hidpos_report(aim, c, i < len(chunks) - 1, size) for i, c in enumerate(chunks)]


# --- the driver ---------------------------------------------------------------------------------
@driver
class Scanner(Device):
    kind = "scanner"
    actions = ("status",)

    def __init__(self, spec: DeviceSpec, ctx: Context) -> None:
        super().__init__(spec, ctx)
        self.setup_error: str | None = None
        self.profile: ScannerProfile | None = None
        self.layouts: list[Layout] = []
        try:
            self.profile = profiles().scanner(spec.profile)
            names = spec.options.get("label_layouts", self.profile.label_layouts)
            self.layouts = profiles().layouts(list(names))
        except ProfileError as err:
            self.setup_error = f"{spec.id}: {err}"
        self.transport = self.profile.transport if self.profile else "serial"
        self.gs_substitute = spec.options.get(
            "gs_substitute", self.profile.gs_substitute if self.profile else None
        )
        self.scans = 0
        self.last_scan: dict[str, Any] | None = None
        self.last_scan_at: float | None = None  # monotonic, for the bench
        self._port: SerialPort | None = None
        self._fd: int | None = None
        self._input: Any = None  # evdev.InputDevice when reading a real keyboard
        self._lost: asyncio.Future[None] | None = None
        self._buf = bytearray()
        self._wedge = KeyboardWedge()
        self._hidpos = HidPosReports(self.profile.report_size if self.profile else 64)
        self._warned_no_lane = False

    async def connect(self) -> None:
        if self.setup_error or self.profile is None:
            raise ConfigurationError(self.setup_error or "no profile")
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._buf.clear()
        self._wedge = KeyboardWedge()
        self._hidpos = HidPosReports(self.profile.report_size)
        if self.transport == "serial":
            settings = self.profile.serial or SerialSettings()
            self._port = SerialPort(self.spec.port, settings, self._serial_bytes)
            self._port.open()
            self._lost = self._port.lost
            return
        self._fd = self._open_input()
        loop.add_reader(self._fd, self._readable)

    def _open_input(self) -> int:
        path = self.spec.port
        mode = os.stat(path).st_mode
        if stat.S_ISFIFO(mode):
            # a recorded stream of the kernel's own records (simulator / replay): nothing to grab
            return os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        if self.transport == "keyboard":
            import evdev

            device = evdev.InputDevice(path)
            try:
                device.grab()  # exclusive: scans must not type into the desktop
            except OSError as err:
                device.close()
                raise DeviceError(f"cannot grab {path}: {err} (another program holds it)") from err
            self._input = device
            return device.fd
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    async def serve(self) -> None:
        assert self._lost is not None
        await self._lost

    async def close(self) -> None:
        if self._port:
            self._port.close()
            self._port = None
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            if self._input is not None:
                try:
                    self._input.ungrab()
                except OSError:
                    pass
                self._input.close()
                self._input = None
            else:
                os.close(self._fd)
            self._fd = None

    def _lose(self, err: BaseException) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
        if self._lost and not self._lost.done():
            self._lost.set_exception(OSError(f"{self.spec.port} disconnected: {err}"))

    # --- bytes in ------------------------------------------------------------------------------
    def _readable(self) -> None:
        assert self._fd is not None and self.profile is not None
        size = self.profile.report_size if self.transport == "hidpos" else INPUT_EVENT.size * 64
        try:
            data = os.read(self._fd, size)
        except BlockingIOError:
            return
        except OSError as err:
            self._lose(err)
            return
        if not data:
            self._lose(EOFError("end of input"))
            return
        if self.transport == "hidpos":
            self._report(data)
        else:
            self._key_events(data)

    def _key_events(self, data: bytes) -> None:
        self._buf += data
        usable = len(self._buf) - len(self._buf) % INPUT_EVENT.size
        for _sec, _usec, type_, code, value in INPUT_EVENT.iter_unpack(bytes(self._buf[:usable])):
            text = self._wedge.feed(type_, code, value)
            if text:
                self._scanned(text)
        del self._buf[:usable]

    def _report(self, report: bytes) -> None:
        try:
            done = self._hidpos.feed(report)
        except ValueError as err:
            log.warning("scanner %s: bad HID POS report: %s", self.spec.id, err)
            self._hidpos = HidPosReports(self._hidpos.report_size)
            return
        if done:
            aim, data = done
            prefix = aim.decode("ascii", "replace") if aim.startswith(b"]") else ""
            self._scanned(prefix + self._decode(data))

    def _serial_bytes(self, data: bytes) -> None:
        assert self.profile is not None
        suffix = self.profile.suffix.encode()
        self._buf += data
        while (end := self._buf.find(suffix)) >= 0:
            raw = bytes(self._buf[:end])
            del self._buf[: end + len(suffix)]
            text = self._decode(raw).strip("\r\n")
            if text:
                self._scanned(text)
        if len(self._buf) > 4096:  # a scanner without its suffix configured
            log.warning("scanner %s: 4 KiB without suffix %r; dropped", self.spec.id, suffix)
            self._buf.clear()

    def _decode(self, raw: bytes) -> str:
        encoding = self.profile.encoding if self.profile else "utf-8"
        return raw.decode(encoding, "replace")

    # --- a scan ---------------------------------------------------------------------------------
    def _scanned(self, text: str) -> Scan:
        scan = classify(text, self.layouts, self.gs_substitute)
        body = scan.event()
        self.scans += 1
        self.last_scan, self.last_scan_at = body, time.monotonic()
        if isinstance(scan, PaymentScan):
            event = {
                "type": "paycode",
                "device": self.spec.id,
                "symbology": body["symbology"],
                "provider": body["provider"],
                "masked": body["masked"],
                "code": scan.paycode.code,  # for the payment module only: never log this event
            }
            log.info(
                "scanner %s: %s payment code %s", self.spec.id, body["provider"], body["masked"]
            )
        else:
            event = {"type": "scan", "device": self.spec.id, **body}
            log.debug("scanner %s: %s scan", self.spec.id, scan.kind)
        if self.spec.lane:
            self.lanes.publish(self.spec.lane, event)
        elif not self._warned_no_lane:
            self._warned_no_lane = True
            log.warning("scanner %s has no lane: its scans reach no checkout", self.spec.id)
        return scan

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(transport=self.transport, scans=self.scans, last_scan=self.last_scan)
        return out

    async def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if name == "status":
            return {"state": self.state, "scans": self.scans, "last_scan": self.last_scan}
        return await super().action(name, params)
