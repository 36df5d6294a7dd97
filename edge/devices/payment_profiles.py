"""Profiles of printers, card terminals and payment aggregators, in the pattern of
profiles.py: TOML under `firmware_config/{printers,terminals,aggregators}/`, validated on load,
a bad file failing with the file, the key and the problem."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta, field

from edge.devices.profiles import Strict, UsbMatch, _get, load_dir, profile_dir
from protocols.escpos.receipt import Paper


class PrinterProfile(Strict, kw_only=True):
    title: str
    vendor: str
    paper_mm: Literal[58, 80]
    dots: Annotated[int, Meta(gt=0)]  # printable dots per line: 384 on 58 mm, 576 (512) on 80
    columns: Annotated[int, Meta(gt=0)]  # font A columns: 32 on 58 mm, 48 (42) on 80 mm
    columns_font_b: int | None = None
    code_page: str = "cp437"  # single-byte table outside Hanzi mode
    hanzi: Literal["gb18030", "gbk"] = "gb18030"  # bytes inside FS & … FS .
    hanzi_default: bool = False  # starts in Chinese mode (many cheap 58 mm printers)
    cutter: Literal["full", "partial", "none"] = "partial"
    drawer_pins: list[Literal[2, 5]] = field(default_factory=lambda: [2])
    drawer_pulse_ms: Annotated[int, Meta(ge=10, le=500)] = 100
    barcode: bool = True
    qr: bool = True
    realtime_status: bool = True  # answers DLE EOT
    escpos_profile: str = "default"  # python-escpos capabilities profile for commands
    usb: UsbMatch | None = None

    def __post_init__(self) -> None:
        if self.columns * 12 > self.dots:  # font A is 12 dots wide
            raise ValueError(f"{self.columns} columns of 12 dots do not fit {self.dots} dots")
        try:
            "".encode(self.code_page)
        except LookupError as err:
            raise ValueError(f"code page {self.code_page!r} is unknown") from err

    def paper(self) -> Paper:
        return Paper(
            columns=self.columns,
            dots=self.dots,
            cutter=self.cutter,
            barcode=self.barcode,
            qr=self.qr,
            escpos_profile=self.escpos_profile,
            hanzi=self.hanzi,
        )


class TerminalProfile(Strict, kw_only=True):
    title: str
    vendor: str
    protocol: Literal["zvt"] = "zvt"
    port: int = 20007
    password: Annotated[str, Meta(pattern=r"^\d{6}$")] = "000000"
    currency: int = 156  # ISO 4217 numeric: CNY
    registration: bool = True  # send 06 00 before each command session
    connect_timeout_s: Annotated[float, Meta(gt=0)] = 5.0
    ack_timeout_s: Annotated[float, Meta(gt=0)] = 5.0  # ECR command → PT 80 00 00
    transaction_timeout_s: Annotated[float, Meta(gt=0)] = 120.0  # customer at the PIN pad
    reversal: bool = True
    end_of_day: bool = True


class AggregatorProfile(Strict, kw_only=True):
    title: str
    vendor: str
    api: Literal["storegw-v1"] = "storegw-v1"
    pay_path: str = "/v1/pay"
    query_path: str = "/v1/query"
    reverse_path: str = "/v1/reverse"
    request_timeout_s: Annotated[float, Meta(gt=0)] = 10.0
    query_interval_s: Annotated[float, Meta(gt=0)] = 5.0
    query_limit: Annotated[int, Meta(ge=1)] = 6
    reverse_interval_s: Annotated[float, Meta(gt=0)] = 2.0
    reverse_limit: Annotated[int, Meta(ge=1)] = 5
    channels: list[Literal["wechat", "alipay", "unionpay"]] = field(
        default_factory=lambda: ["wechat", "alipay", "unionpay"]
    )


class PaymentProfiles:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or profile_dir()
        self.printers = load_dir(self.root / "printers", PrinterProfile)
        self.terminals = load_dir(self.root / "terminals", TerminalProfile)
        self.aggregators = load_dir(self.root / "aggregators", AggregatorProfile)

    def printer(self, name: str) -> PrinterProfile:
        return _get(self.printers, name, "printer", self.root / "printers")

    def terminal(self, name: str) -> TerminalProfile:
        return _get(self.terminals, name, "terminal", self.root / "terminals")

    def aggregator(self, name: str) -> AggregatorProfile:
        return _get(self.aggregators, name, "aggregator", self.root / "aggregators")


@cache
def _cached(root: Path) -> PaymentProfiles:
    return PaymentProfiles(root)


def payment_profiles() -> PaymentProfiles:
    return _cached(profile_dir())
