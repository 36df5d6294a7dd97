"""Barcode scanners, three ways onto the gateway, one lane event per scan:

- `serial`: USB CDC (/dev/ttyACM*) or RS-232 through pyserial; each scan ends with a suffix (CR);
- `keyboard`: a HID keyboard wedge read through evdev and grabbed exclusively, so scans never
  type into the desktop; key codes with shift become characters, Ctrl+] (or Alt + keypad 029)
  becomes GS, and a profile may name a substitute the scanner types for GS instead;
- `hidpos`: HID POS (usage page 0x8C) read from hidraw: reports carry the AIM symbology id and the
  data, and a last byte saying more reports follow.

The decoders are in protocols/scanners (sans-I/O, testable without hardware); this driver only
moves bytes to them, and `classify()` then says what was scanned. A payment code goes to the
lane as a `paycode` event (the full code is there for the payment module only), logged masked."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from typing import Any

from edge.devices.base import ConfigurationError, Context, Device, DeviceError, DeviceSpec
from edge.devices.profiles import ProfileError, ScannerProfile, SerialSettings, profiles
from edge.devices.serial_port import SerialPort
from protocols.codes import PaymentScan, Scan, classify
from protocols.codes.variable_measure import Layout
from protocols.scanners.hidpos import HidPosReports, HidPosScan, ReportError
from protocols.scanners.serial import Overflow, SuffixScans
from protocols.scanners.wedge import INPUT_EVENT, KeyboardWedge

log = logging.getLogger(__name__)


# --- the driver ---------------------------------------------------------------------------------
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
        self._wedge = KeyboardWedge()
        self._hidpos = HidPosReports(self.profile.report_size if self.profile else 64)
        self._serial = SuffixScans(self.profile.suffix.encode() if self.profile else b"\r")
        self._warned_no_lane = False

    async def connect(self) -> None:
        if self.setup_error or self.profile is None:
            raise ConfigurationError(self.setup_error or "no profile")
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._wedge = KeyboardWedge()
        self._hidpos = HidPosReports(self.profile.report_size)
        self._serial = SuffixScans(self.profile.suffix.encode())
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
        self._wedge.receive_data(data)
        while (text := self._wedge.next_event()) is not None:
            self._scanned(text)

    def _report(self, report: bytes) -> None:
        self._hidpos.receive_data(report)  # one report per read
        while (ev := self._hidpos.next_event()) is not None:
            if isinstance(ev, ReportError):
                log.warning("scanner %s: bad HID POS report: %s", self.spec.id, ev.reason)
            elif isinstance(ev, HidPosScan):
                self._scanned(ev.text(self.profile.encoding if self.profile else "utf-8"))

    def _serial_bytes(self, data: bytes) -> None:
        self._serial.receive_data(data)
        while (ev := self._serial.next_event()) is not None:
            if isinstance(ev, Overflow):
                log.warning("scanner %s: %d bytes without suffix %r; dropped",
                            self.spec.id, ev.dropped, self._serial.suffix)  # fmt: skip
            elif text := self._decode(ev).strip("\r\n"):
                self._scanned(text)

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
