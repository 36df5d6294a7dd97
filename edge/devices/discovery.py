"""Finding what is plugged in: USB devices (the kernel's sysfs list on Linux, pyusb elsewhere),
serial ports under /dev/serial/by-id, HID keyboards under /dev/input/by-id and HID POS
scanners under /sys/class/hidraw, matched to profiles by VID/PID, USB strings and — for
generic USB-serial cables that could be any scale — a probe in each candidate profile's protocol.

Ids are stable across reboots and re-plugging: they come from the USB serial number when the
device has one, else from the by-id name (which udev derives from the same strings), never from
ttyUSB / hidraw numbers. The registry rescans every few seconds, so a device plugged in shows up
within seconds, and a discovered device gone for a while is forgotten."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from edge.devices.base import Context, DeviceError, DeviceSpec
from edge.devices.profiles import Profiles, ScaleProfile, ScannerProfile, UsbMatch, profiles
from edge.lane_bus import LaneBus

log = logging.getLogger(__name__)

BAR_CODE_SCANNER_PAGE = 0x8C


@dataclass(frozen=True)
class UsbInfo:
    vid: int
    pid: int
    manufacturer: str | None = None
    product: str | None = None
    serial: str | None = None
    port_path: str = ""  # bus-port chain, e.g. "1-1.2": stable while it stays in that socket

    @property
    def id_serial(self) -> str:
        """udev's ID_SERIAL, the middle of a /dev/serial/by-id name."""
        parts = [self.manufacturer or f"{self.vid:04x}", self.product or f"{self.pid:04x}"]
        if self.serial:
            parts.append(self.serial)
        return "_".join(_udev_safe(p) for p in parts)


def _udev_safe(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z#+\-.:=@_]", "_", text.strip())


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "-", text).strip("-").lower()


SYSFS_USB = Path("/sys/bus/usb/devices")


def usb_devices() -> list[UsbInfo]:
    """Enumerate USB from sysfs, where the kernel keeps each device's ids and strings as read
    at plug-in: no permission needed, no control transfer to every device at every rescan, and
    no libusb in a gateway's memory. A Linux without it has no USB bus to list (libusb reads
    the same sysfs); pyusb lists USB on other systems."""
    if sys.platform.startswith("linux"):
        return sysfs_usb_devices(SYSFS_USB)
    return _pyusb_devices()


def _pyusb_devices() -> list[UsbInfo]:
    import usb.core  # loaded only here: a sysfs system never needs it to enumerate
    import usb.util

    try:
        found = []
        for dev in usb.core.find(find_all=True):

            def text(index: int, dev: Any = dev) -> str | None:
                try:
                    return usb.util.get_string(dev, index) if index else None
                except (ValueError, usb.core.USBError, NotImplementedError):
                    return None  # no permission to read strings: ids still match

            path = f"{dev.bus}-{'.'.join(map(str, dev.port_numbers or ()))}"
            found.append(
                UsbInfo(
                    dev.idVendor,
                    dev.idProduct,
                    text(dev.iManufacturer),
                    text(dev.iProduct),
                    text(dev.iSerialNumber),
                    path,
                )
            )
        return found
    except usb.core.NoBackendError:
        log.warning("no sysfs and no libusb: USB devices cannot be listed")
        return []


def sysfs_usb_devices(root: Path) -> list[UsbInfo]:
    out = []
    for d in sorted(root.glob("*")) if root.is_dir() else []:
        vid, pid = d / "idVendor", d / "idProduct"
        if not (vid.exists() and pid.exists()):
            continue

        def read(name: str, d: Path = d) -> str | None:
            p = d / name
            return p.read_text().strip() or None if p.exists() else None

        out.append(
            UsbInfo(
                int(vid.read_text(), 16),
                int(pid.read_text(), 16),
                read("manufacturer"),
                read("product"),
                read("serial"),
                d.name,
            )
        )
    return out


def descriptor_is_pos_scanner(descriptor: bytes) -> bool:
    """Does a HID report descriptor use the Bar Code Scanner usage page (0x8C)? Walks the short
    items so a data byte that happens to be 0x8C is not mistaken for one."""
    i = 0
    while i < len(descriptor):
        prefix = descriptor[i]
        if prefix == 0xFE:  # long item
            if i + 1 >= len(descriptor):
                return False
            i += 3 + descriptor[i + 1]
            continue
        size = (0, 1, 2, 4)[prefix & 0x03]
        data = descriptor[i + 1 : i + 1 + size]
        if prefix & 0xFC == 0x04 and int.from_bytes(data, "little") == BAR_CODE_SCANNER_PAGE:
            return True  # Usage Page (global item, tag 0)
        i += 1 + size
    return False


@dataclass
class Seen:
    """One thing discovery looked at, and what it made of it (for the technician page)."""

    port: str
    usb: UsbInfo | None
    transport: str
    profile: str | None = None
    kind: str | None = None
    id: str | None = None
    note: str = ""
    candidates: list[str] = field(default_factory=list)
    id_base: str = ""  # the stable part of the id; the kind is put in front once matched

    def describe(self) -> dict[str, Any]:
        usb = self.usb
        return {
            "port": self.port,
            "transport": self.transport,
            "usb": None
            if usb is None
            else {
                "id": f"{usb.vid:04x}:{usb.pid:04x}",
                "manufacturer": usb.manufacturer,
                "product": usb.product,
                "serial": usb.serial,
            },
            "id": self.id,
            "kind": self.kind,
            "profile": self.profile,
            "candidates": self.candidates,
            "note": self.note,
        }


def _matches(match: UsbMatch | None, usb: UsbInfo | None) -> bool:
    if match is None or usb is None or (usb.vid, usb.pid) not in match.pairs():
        return False
    for pattern, value in ((match.manufacturer, usb.manufacturer), (match.product, usb.product)):
        if pattern and not re.search(pattern, value or ""):
            return False
    return True


class Discovery:
    """An async spec source for `Devices.sources` (the gateway adds it there)."""

    def __init__(
        self,
        *,
        serial_by_id: Path = Path("/dev/serial/by-id"),
        input_by_id: Path = Path("/dev/input/by-id"),
        hidraw_class: Path = Path("/sys/class/hidraw"),
        dev_dir: Path = Path("/dev"),
        usb_lister: Callable[[], Iterable[UsbInfo]] = usb_devices,
        profile_set: Profiles | None = None,
        busy: Callable[[str], bool] = lambda port: False,
    ) -> None:
        self.serial_by_id = serial_by_id
        self.input_by_id = input_by_id
        self.hidraw_class = hidraw_class
        self.dev_dir = dev_dir
        self.usb_lister = usb_lister
        self._profiles = profile_set
        self.busy = busy  # a port a running driver holds is not probed
        self.seen: dict[str, Seen] = {}  # by port
        self._decided: dict[str, Seen] = {}  # probe results, until the port goes away
        self._warned: set[str] = set()

    @property
    def profiles(self) -> Profiles:
        return self._profiles or profiles()

    async def __call__(self) -> list[DeviceSpec]:
        return await self.scan()

    async def scan(self) -> list[DeviceSpec]:
        try:
            usb = list(self.usb_lister())
        except Exception as err:  # a broken USB stack must not stop declared devices
            if "usb" not in self._warned:
                self._warned.add("usb")
                log.warning("USB enumeration failed: %s", err)
            usb = []
        found: list[Seen] = []
        found += await self._serial_ports(usb)
        found += self._keyboards(usb)
        found += self._hidraw()
        self.seen = {s.port: s for s in found}
        for port in list(self._decided):
            if port not in self.seen:
                del self._decided[port]  # unplugged: probe afresh when it comes back
        return [
            DeviceSpec(s.id, s.kind, s.profile, s.port, None, {}, "discovered")
            for s in found
            if s.id and s.kind and s.profile
        ]

    # --- serial ---------------------------------------------------------------------------------
    async def _serial_ports(self, usb: list[UsbInfo]) -> list[Seen]:
        out = []
        links = sorted(self.serial_by_id.iterdir()) if self.serial_by_id.is_dir() else []
        for link in links:
            port = str(link)
            if port in self._decided:
                out.append(self._decided[port])
                continue
            info = next((u for u in usb if link.name.startswith(f"usb-{u.id_serial}-")), None)
            seen = Seen(port, info, "serial")
            seen.id_base = _slug(
                f"{info.vid:04x}{info.pid:04x}-{info.serial or info.port_path}"
                if info and (info.serial or info.port_path)
                else link.name.removeprefix("usb-")
            )
            await self._match_serial(seen)
            if not self.busy(port):
                self._decided[port] = seen
            out.append(seen)
        return out

    async def _match_serial(self, seen: Seen) -> None:
        candidates: list[tuple[str, str, ScaleProfile | ScannerProfile]] = [
            ("scale", n, p) for n, p in self.profiles.scales.items() if _matches(p.usb, seen.usb)
        ] + [
            ("scanner", n, p)
            for n, p in self.profiles.scanners.items()
            if p.transport == "serial" and _matches(p.usb, seen.usb)
        ]
        seen.candidates = [n for _, n, _ in candidates]
        if not candidates:
            seen.note = "no profile matches its USB ids and strings; declare it in devices.toml"
            return
        needs_probe = [c for c in candidates if c[2].usb and c[2].usb.probe]
        if not needs_probe:
            kind, name, _ = candidates[0]
            self._assign(seen, kind, name)
            return
        if self.busy(seen.port):
            seen.note = "in use by a running driver; not probed"
            return
        for kind, name, _ in needs_probe:
            if await self._probe(kind, name, seen.port):
                self._assign(seen, kind, name, "answered the probe")
                return
        seen.note = f"no candidate answered the probe ({', '.join(n for _, n, _ in needs_probe)})"

    async def _probe(self, kind: str, name: str, port: str) -> bool:
        if kind != "scale":
            return False
        from edge.devices.scale import Scale  # the driver when a device may need it, not before

        probe = Scale(
            DeviceSpec("probe", "scale", name, port, options={"reply_timeout_ms": 300}),
            Context(LaneBus(), Path(".")),
        )
        try:
            await probe.connect()
            return True
        except (OSError, DeviceError) as err:
            log.debug("probe of %s as %s: %s", port, name, err)
            return False
        finally:
            await probe.close()

    def _assign(self, seen: Seen, kind: str, profile: str, note: str = "") -> None:
        seen.kind, seen.profile, seen.note = kind, profile, note or "matched by USB ids"
        seen.id = f"{kind}-{seen.id_base}"

    # --- HID ------------------------------------------------------------------------------------
    def _keyboards(self, usb: list[UsbInfo]) -> list[Seen]:
        out = []
        links = (
            sorted(self.input_by_id.glob("usb-*-event-kbd")) if self.input_by_id.is_dir() else []
        )
        for link in links:
            info = next((u for u in usb if link.name.startswith(f"usb-{u.id_serial}-")), None)
            seen = Seen(str(link), info, "keyboard")
            seen.id_base = _slug(
                f"{info.vid:04x}{info.pid:04x}-{info.serial}"
                if info and info.serial
                else link.name.removeprefix("usb-").removesuffix("-event-kbd")
            )
            names = [
                n
                for n, p in self.profiles.scanners.items()
                if p.transport == "keyboard" and _matches(p.usb, info)
            ]
            seen.candidates = names
            if names:
                self._assign(seen, "scanner", names[0])
            else:
                seen.note = "a keyboard that matches no scanner profile (left alone)"
            out.append(seen)
        return out

    def _hidraw(self) -> list[Seen]:
        out = []
        nodes = sorted(self.hidraw_class.iterdir()) if self.hidraw_class.is_dir() else []
        for node in nodes:
            uevent = _uevent(node / "device" / "uevent")
            descriptor = node / "device" / "report_descriptor"
            if not descriptor.exists() or not descriptor_is_pos_scanner(descriptor.read_bytes()):
                continue
            hid_id = uevent.get("HID_ID", "")  # bus:vendor:product, e.g. 0003:00000C2E:00000B61
            vid, pid = hid_id.split(":")[1:3] if hid_id.count(":") == 2 else ("0", "0")
            info = UsbInfo(
                int(vid, 16),
                int(pid, 16),
                None,
                uevent.get("HID_NAME"),
                uevent.get("HID_UNIQ") or None,
                uevent.get("HID_PHYS", "").split("/")[0],
            )
            seen = Seen(str(self.dev_dir / node.name), info, "hidpos")
            seen.id_base = _slug(
                f"{info.vid:04x}{info.pid:04x}-{info.serial or info.port_path or node.name}"
            )
            names = [
                n
                for n, p in self.profiles.scanners.items()
                if p.transport == "hidpos"
                and (p.usb is None or (info.vid, info.pid) in p.usb.pairs())
            ]
            seen.candidates = names
            if names:
                self._assign(seen, "scanner", names[0], "HID POS (usage page 0x8C)")
            else:
                seen.note = "a HID POS scanner with no hidpos profile"
            out.append(seen)
        return out

    def report(self) -> list[dict[str, Any]]:
        return [s.describe() for s in self.seen.values()]

    def routes(self) -> list[web.RouteDef]:
        """Where the technician sees what discovery made of each port."""

        async def seen(request: web.Request) -> web.Response:
            return web.json_response({"seen": self.report()})

        return [web.get("/api/discovery", seen)]


def _uevent(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}
