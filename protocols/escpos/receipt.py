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
    language: str = "zh"  # zh | en: the words of refund receipts and shift reports


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


# --- refunds and shift reports, in the store's language ----------------------------------------
WORDS = {
    "zh": {
        "refund": "退货单", "refund_no": "退货号", "sale": "原销售", "time": "时间",
        "lane": "收银台", "cashier": "收银员", "reason": "原因", "refunded": "退款合计",
        "to": "退回", "z": "Z 报表（结班）", "x": "X 报表（班中）", "opened": "开班",
        "closed": "结班", "sales": "销售笔数", "sales_fen": "销售金额", "refunds": "退货笔数",
        "refunds_fen": "退货金额", "by_tender": "按支付方式（净额）", "float": "备用金",
        "expected": "应有现金", "counted": "实点", "difference": "差额", "not_counted": "未清点",
    },
    "en": {
        "refund": "REFUND", "refund_no": "Refund", "sale": "Sale", "time": "Time",
        "lane": "Lane", "cashier": "Cashier", "reason": "Reason", "refunded": "Refunded",
        "to": "to", "z": "Z REPORT (shift close)", "x": "X REPORT (mid-shift)",
        "opened": "Opened", "closed": "Closed", "sales": "Sales", "sales_fen": "Sales total",
        "refunds": "Refunds", "refunds_fen": "Refunds total", "by_tender": "By tender (net)",
        "float": "Float", "expected": "Cash expected", "counted": "Counted",
        "difference": "Difference", "not_counted": "not counted",
    },
}  # fmt: skip
TENDER_NAMES_EN = {"cash": "Cash", "card": "Card", "wechat": "WeChat Pay", "alipay": "Alipay",
                   "unionpay": "UnionPay", "points": "Points", "coupon": "Coupon",
                   "other": "Other"}  # fmt: skip


def _words(store: Store) -> tuple[dict[str, str], dict[str, str]]:
    en = store.language == "en"
    return WORDS["en" if en else "zh"], TENDER_NAMES_EN if en else TENDER_NAMES


def _head(doc: Document, store: Store, title: str) -> None:
    doc.init()
    if store.name:
        doc.style(align="center", bold=True, tall=True)
        doc.line(store.name)
    doc.style(align="center", bold=True)
    doc.line(title)
    doc.style()


def _signed(fen: int) -> str:
    return ("+" if fen > 0 else "") + fen_to_yuan(fen)


def render_refund(
    envelope: dict[str, Any], paper: Paper, store: Store, *, names: dict[str, str] | None = None
) -> Document:
    """A `sale.refunded` envelope as the slip the customer takes: the lines given back, the
    money per original tender; `names` (SKU → name) from the sale when the gateway has it."""
    body, (w, tenders) = envelope["body"], _words(store)
    doc = Document(paper)
    _head(doc, store, w["refund"])
    doc.pair(w["refund_no"], str(body["refund_id"])[-12:])
    doc.pair(w["sale"], str(body.get("receipt_no") or body["sale_id"]))
    doc.pair(w["time"], local_time(envelope["occurred_at"], store.timezone))
    doc.pair(f"{w['lane']} {body['lane']}", f"{w['cashier']} {body.get('cashier', '')}")
    doc.rule()
    for line in body["lines"]:
        for part in tx.wrap(str((names or {}).get(line["sku"]) or line["sku"]), paper.columns):
            doc.line(part)
        doc.pair(f"  -{qty_text(line)}", "-" + fen_to_yuan(int(line["amount_fen"])))
    doc.rule()
    doc.style(bold=True)
    doc.pair(w["refunded"], "-" + fen_to_yuan(int(body["total_fen"])))
    doc.style()
    for p in body["payments"]:
        name = tenders.get(p["tender"], p["tender"])
        doc.pair(f"{w['to']} {name}", fen_to_yuan(int(p["amount_fen"])))
    if body.get("reason"):
        doc.pair(w["reason"], str(body["reason"]))
    doc.cut()
    return doc


def render_shift_report(report: dict[str, Any], paper: Paper, store: Store) -> Document:
    """A shift's X report (no `closed_at`) or Z report (edge/shifts.py's figures): counts and
    totals, net per tender, the float, the cash expected and counted and the difference."""
    w, tenders = _words(store)
    doc = Document(paper)
    z = bool(report.get("closed_at"))
    _head(doc, store, w["z" if z else "x"])
    doc.pair(f"{w['lane']} {report['lane']}", f"{w['cashier']} {report['cashier']}")
    doc.pair(w["opened"], local_time(report["opened_at"], store.timezone))
    if z:
        doc.pair(w["closed"], local_time(report["closed_at"], store.timezone))
    doc.rule()
    doc.pair(w["sales"], str(report["sales_count"]))
    doc.pair(w["sales_fen"], fen_to_yuan(int(report["sales_fen"])))
    doc.pair(w["refunds"], str(report["refunds_count"]))
    doc.pair(w["refunds_fen"], fen_to_yuan(int(report["refunds_fen"])))
    doc.rule()
    doc.line(w["by_tender"])
    for tender, fen in report["tenders"].items():
        doc.pair(f"  {tenders.get(tender, tender)}", fen_to_yuan(int(fen)))
    doc.rule()
    doc.pair(w["float"], fen_to_yuan(int(report["float_fen"])))
    doc.style(bold=True)
    doc.pair(w["expected"], fen_to_yuan(int(report["expected_cash_fen"])))
    doc.style()
    counted: dict[str, int] = report.get("counted") or {}
    over_short: dict[str, int] = report.get("over_short_fen") or {}
    if z:
        for tender in sorted({"cash", *report["tenders"], *counted}):
            name = tenders.get(tender, tender)
            if tender not in counted:
                doc.pair(f"{w['counted']} {name}", w["not_counted"])
                continue
            doc.pair(f"{w['counted']} {name}", fen_to_yuan(int(counted[tender])))
            doc.style(bold=True)
            doc.pair(f"{w['difference']} {name}", _signed(int(over_short.get(tender, 0))))
            doc.style()
    doc.cut()
    return doc
