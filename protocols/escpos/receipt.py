"""A sale as receipt bytes: header, lines (weighed ones with weight × price per kg), discounts,
total, tenders and change, member and points, receipt-number barcode, a QR code (e-receipt or
member sign-up link) and the cut, laid out for 32 (58 mm) or 48 (80 mm) columns.

Text goes as our own bytes (python-escpos's encoder knows only single-byte code pages, see
text.encode); the style, barcode, QR, drawer and cut commands come from commands.py (they were
python-escpos's Dummy printer's, byte for byte, before)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from protocols.escpos import commands
from protocols.escpos import text as tx
from protocols.money import fen_to_yuan

TENDER_NAMES = {
    "cash": "现金",
    "card": "银行卡",
    "wechat": "微信支付",
    "alipay": "支付宝",
    "unionpay": "云闪付",
    "points": "积分抵扣",
    "coupon": "优惠券",
    "other": "其他",
}
COPY_MARK = "** 重打印 COPY **"


@dataclass(frozen=True)
class Paper:
    """What the printer profile says about the paper and the command set."""

    columns: int = 32  # font A: 32 on 58 mm, 48 on 80 mm
    dots: int = 384
    cutter: str = "partial"  # full | partial | none
    barcode: bool = True  # GS k in hardware
    qr: bool = True  # GS ( k in hardware
    escpos_profile: str = "default"  # python-escpos capabilities profile (its links)
    hanzi: str = "gb18030"  # encoding inside FS & … FS . (gbk on old firmware)


@dataclass(frozen=True)
class Store:
    """What the store prints around every receipt (from the printer's options)."""

    name: str = ""
    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()
    qr_url: str = ""  # e.g. "https://e.example.cn/r/{sale_id}"; empty: no QR code
    qr_caption: str = "扫码开电子小票 / 注册会员"
    timezone: str = "Asia/Shanghai"


@dataclass
class Document:
    """Receipt bytes under construction; `lines` keeps the plain text as laid out."""

    paper: Paper
    out: bytearray = field(default_factory=bytearray)
    lines: list[str] = field(default_factory=list)

    def init(self) -> None:
        self.out.extend(b"\x1b\x40")  # ESC @: a known state whatever the last job left

    def style(self, *, align: str = "left", bold: bool = False, tall: bool = False) -> None:
        self.out.extend(commands.style(align, bold=bold, tall=tall))

    def line(self, text: str = "") -> None:
        self.lines.append(text)
        self.out.extend(tx.encode(text, self.paper.hanzi) + b"\n")

    def rule(self, ch: str = "-") -> None:
        self.line(ch * self.paper.columns)

    def pair(self, left: str, right: str) -> None:
        for text in tx.two_sides(left, right, self.paper.columns):
            self.line(text)

    def barcode(self, code: str) -> None:
        if not self.paper.barcode:
            self.style(align="center")
            self.line(code)
            return
        self.out.extend(commands.code128(code, height=60, width=2))
        self.lines.append(f"[CODE128 {code}]")

    def qr(self, data: str) -> None:
        if not self.paper.qr:
            return
        self.out.extend(commands.qr(data, size=5))
        self.out.extend(b"\n")
        self.lines.append(f"[QR {data}]")

    def drawer(self, pin: int = 2) -> None:
        self.out.extend(commands.drawer_pulse(pin, 100))

    def cut(self) -> None:
        if self.paper.cutter == "none":
            self.out.extend(b"\x1b\x64\x06")  # feed past the tear bar
            return
        self.out.extend(commands.cut(full=self.paper.cutter == "full"))


def qty_text(line: dict[str, Any]) -> str:
    q = int(line["qty_milli"])
    if line.get("weighed"):
        return f"{q // 1000}.{q % 1000:03d}kg"
    return str(q // 1000) if q % 1000 == 0 else f"{q / 1000:g}"


def local_time(occurred_at: str, zone: str) -> str:
    at = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def render_sale(
    envelope: dict[str, Any], paper: Paper, store: Store, *, copy: bool = False
) -> Document:
    """The whole receipt of a `sale.completed` envelope (dict), ready to send."""
    body = envelope["body"]
    doc = Document(paper)
    doc.init()
    if copy:
        doc.style(align="center", bold=True)
        doc.line(COPY_MARK)
    if store.name:
        doc.style(align="center", bold=True, tall=True)
        doc.line(store.name)
    doc.style(align="center")
    for text in store.header:
        doc.line(text)
    doc.style()
    doc.pair("单号", str(body["receipt_no"]))
    doc.pair("时间", local_time(envelope["occurred_at"], store.timezone))
    doc.pair(f"收银台 {body['lane']}", f"收银员 {body.get('cashier', '')}")
    doc.rule()
    for line in body["lines"]:
        for name_part in tx.wrap(str(line["name"]), paper.columns):
            doc.line(name_part)
        unit = fen_to_yuan(int(line["unit_price_fen"])) + ("/kg" if line.get("weighed") else "")
        gross = int(line["total_fen"]) + int(line.get("discount_fen", 0))
        doc.pair(f"  {qty_text(line)} x {unit}", fen_to_yuan(gross))
        if line.get("discount_fen"):
            doc.pair("  优惠", "-" + fen_to_yuan(int(line["discount_fen"])))
    doc.rule()
    for d in body.get("discounts", []):
        doc.pair(
            str(d.get("description") or d.get("code", "优惠")),
            "-" + fen_to_yuan(int(d["amount_fen"])),
        )
    # each promotion, member price or coupon the engine applied, and what it saved (the
    # discounts sit on the lines above; this says where they came from)
    for saved in (body.get("pricing") or {}).get("savings", []):
        doc.pair(f"{saved.get('name') or saved['ref']} 已省", fen_to_yuan(int(saved["saved_fen"])))
    doc.style(bold=True)
    doc.pair("合计", fen_to_yuan(int(body["total_fen"])))
    doc.style()
    for p in body.get("payments", []):
        doc.pair(TENDER_NAMES.get(p["tender"], p["tender"]), fen_to_yuan(int(p["amount_fen"])))
    if body.get("change_fen"):
        doc.pair("找零", fen_to_yuan(int(body["change_fen"])))
    member = body.get("member") or {}
    if body.get("member_id"):
        doc.rule()
        who = member.get("name") or body["member_id"]
        doc.pair("会员", f"{who} {member.get('tier', '')}".strip())
        if member.get("points_earned") is not None:
            doc.pair("本次积分", str(member["points_earned"]))
        if member.get("points_balance") is not None:
            doc.pair("积分余额", str(member["points_balance"]))
    doc.rule()
    doc.style(align="center")
    doc.barcode(str(body["receipt_no"]))
    if store.qr_url:
        doc.style(align="center")
        doc.qr(store.qr_url.format(sale_id=body["sale_id"], receipt_no=body["receipt_no"]))
        doc.line(store.qr_caption)
    for text in store.footer:
        doc.line(text)
    if copy:
        doc.style(align="center", bold=True)
        doc.line(COPY_MARK)
    doc.style()
    doc.cut()
    return doc


def render_test_page(paper: Paper, store: Store, printer_id: str, now_utc: str) -> Document:
    """What `test-print` prints: the width ruler, Chinese text, a barcode and the cut."""
    doc = Document(paper)
    doc.init()
    doc.style(align="center", bold=True, tall=True)
    doc.line("打印测试 TEST")
    doc.style()
    doc.pair("打印机", printer_id)
    doc.pair("时间", local_time(now_utc, store.timezone))
    doc.line(("0123456789" * 7)[: paper.columns])
    doc.line(("中文" * 24)[: paper.columns // 2])
    doc.style(align="center")
    doc.barcode("TEST-0001")
    doc.style()
    doc.cut()
    return doc
