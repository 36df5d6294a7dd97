"""Device profiles: what a model of scale or scanner is (USB ids, serial settings, protocol,
limits), as TOML files under `firmware_config/<kind>/<name>.toml`, validated on load.

A profile's name is its file name without `.toml`. A bad file fails loudly with the file, the key
and what is wrong, e.g. `scales/acme.toml: serial.parity: Input should be 'E', 'N' or 'O'`.
msgspec Structs (not pydantic: a gateway that loads no pydantic idles ~5 MiB smaller).
The directory is the repo's `firmware_config/`, or `$STOREGW_PROFILES` when set."""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

from protocols.codes.paycode import collides
from protocols.codes.variable_measure import Layout, LayoutError
from protocols.strict import Invalid, convert

M = TypeVar("M", bound="Strict")
_USB_ID = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file, the key and the problem."""


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A typo'd key is an error; fields are checked when loaded (`convert`), not when built."""


class SerialSettings(Strict, kw_only=True):
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1

    def describe(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


class UsbMatch(Strict, kw_only=True):
    """How discovery recognises the device: any of `ids` ("vid:pid", as lsusb prints them),
    optionally narrowed by regular expressions on the USB strings; `probe` when the ids belong
    to a generic USB-serial chip and only talking to the device tells what it is."""

    ids: Annotated[list[str], Meta(min_length=1)]
    manufacturer: str | None = None
    product: str | None = None
    probe: bool = False

    def __post_init__(self) -> None:
        for value in self.ids:
            if not _USB_ID.match(value):
                raise ValueError(f"ids: {value!r} is not a USB id like '0eb8:f000'")
        force_setattr(self, "ids", [v.lower() for v in self.ids])
        for what, value in (("manufacturer", self.manufacturer), ("product", self.product)):
            if value is not None:
                try:
                    re.compile(value)
                except re.error as err:
                    raise ValueError(f"{what}: not a regular expression: {err}") from err

    def pairs(self) -> set[tuple[int, int]]:
        return {(int(v[:4], 16), int(v[5:], 16)) for v in self.ids}


class Weighing(Strict, kw_only=True):
    unit: Literal["kg", "g", "lb"] = "kg"
    capacity_g: Annotated[int, Meta(gt=0)]
    min_weight_g: Annotated[int, Meta(ge=0)] = 0  # legal minimum (usually 20 divisions)
    division_g: Annotated[int, Meta(gt=0)] = 1
    stable_readings: Annotated[int, Meta(ge=1, le=10)] = 2  # equal stable readings in a row
    poll_interval_ms: Annotated[int, Meta(ge=20)] = 250
    command_gap_ms: Annotated[int, Meta(ge=0)] = 0  # quiet time the scale needs between commands
    reply_timeout_ms: Annotated[int, Meta(ge=50)] = 600
    settle_timeout_ms: Annotated[int, Meta(ge=100)] = 2000  # how long `read` waits for stability

    def __post_init__(self) -> None:
        if self.min_weight_g >= self.capacity_g:
            raise ValueError("min_weight_g must be below capacity_g")


class ScaleProfile(Strict, kw_only=True):
    title: str
    vendor: str
    protocol: Literal["toledo", "sics", "cas"]
    serial: SerialSettings
    weighing: Weighing
    usb: UsbMatch | None = None


class ScannerProfile(Strict, kw_only=True):
    title: str
    vendor: str
    transport: Literal["serial", "keyboard", "hidpos"]
    usb: UsbMatch | None = None
    serial: SerialSettings | None = None
    suffix: str = "\r"  # what ends a scan on a serial scanner
    encoding: str = "utf-8"
    gs_substitute: str | None = None  # what a keyboard wedge types for GS (FNC1)
    report_size: Annotated[int, Meta(ge=8, le=1024)] = 64  # HID POS input report, with its id
    label_layouts: list[str] = []  # label-scale layouts this store's codes use, in order

    def __post_init__(self) -> None:
        if self.transport == "serial" and self.serial is None:
            raise ValueError("a serial scanner needs a [serial] table")
        if self.transport == "serial" and not self.suffix:
            raise ValueError("a serial scanner needs a suffix to know where a scan ends")
        try:
            "".encode(self.encoding)
        except LookupError as err:
            raise ValueError(f"encoding {self.encoding!r} is unknown") from err


class LabelProfile(Strict, kw_only=True):
    title: str
    vendor: str
    barcode: Literal["EAN-13", "Code 128"]
    pattern: str
    prefixes: Annotated[list[str], Meta(min_length=1)]

    def __post_init__(self) -> None:
        if self.barcode == "EAN-13" and len(self.pattern) != 13:
            raise ValueError(f"an EAN-13 layout has 13 digits, pattern has {len(self.pattern)}")
        try:
            Layout("check", self.pattern, tuple(self.prefixes))
        except LayoutError as err:
            raise ValueError(str(err)) from err
        for prefix in self.prefixes:
            provider = collides(len(self.pattern), prefix)
            if provider:
                raise ValueError(
                    f"{len(self.pattern)}-digit codes starting {prefix} look like {provider} "
                    "payment codes and would be routed to payment: choose another flag"
                )

    def layout(self, name: str) -> Layout:
        return Layout(name, self.pattern, tuple(self.prefixes), self.vendor)


def profile_dir() -> Path:
    env = os.environ.get("STOREGW_PROFILES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "firmware_config"


def load_file(path: Path, model: type[M]) -> M:
    """One profile file, or ProfileError naming the file, the key and what is wrong."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ProfileError(f"{path}: cannot read: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path}: not valid TOML: {err}") from err
    try:
        return convert(data, model)
    except Invalid as err:
        raise ProfileError(f"{path}: {err.loc or '(top level)'}: {err.msg}") from err


def load_dir(directory: Path, model: type[M]) -> dict[str, M]:
    """Every `*.toml` in a directory, by name (file stem)."""
    if not directory.is_dir():
        return {}
    return {p.stem: load_file(p, model) for p in sorted(directory.glob("*.toml"))}


class Profiles:
    """All scale, scanner and label profiles of one firmware_config directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or profile_dir()
        self.scales = load_dir(self.root / "scales", ScaleProfile)
        self.scanners = load_dir(self.root / "scanners", ScannerProfile)
        self.labels = load_dir(self.root / "labels", LabelProfile)

    def scale(self, name: str) -> ScaleProfile:
        return _get(self.scales, name, "scale", self.root / "scales")

    def scanner(self, name: str) -> ScannerProfile:
        return _get(self.scanners, name, "scanner", self.root / "scanners")

    def layouts(self, names: list[str]) -> list[Layout]:
        return [_get(self.labels, n, "label", self.root / "labels").layout(n) for n in names]


def _get(table: dict[str, M], name: str, kind: str, where: Path) -> M:
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise ProfileError(f"no {kind} profile {name!r} in {where} (known: {known})") from None


@cache
def _cached(root: Path) -> Profiles:
    return Profiles(root)


def profiles() -> Profiles:
    """The profiles of the configured directory, loaded (and validated) once per process."""
    return _cached(profile_dir())
