"""Sample bodies shaped like the real ones: a lane's sale, a journaled sale for receipts."""

from __future__ import annotations

from typing import Any

from protocols.escpos.receipt import Store
from protocols.pricing import line_total
from transport.ids import new_id


def sale_body(n: int = 0, member: str | None = None) -> dict[str, Any]:
    """A realistic 5-line sale: packaged goods and one weighed item, paid in cash (odd n:
    a rounded note, with change; even n: exact)."""
    lines = [
        {
            "sku": "6901028075015",
            "name": "农夫山泉 550ml",
            "qty_milli": 2000,
            "unit_price_fen": 200,
        },
        {
            "sku": "6920459905012",
            "name": "康师傅红烧牛肉面",
            "qty_milli": 1000,
            "unit_price_fen": 450 + n % 7,
        },
        {
            "sku": "2000123",
            "name": "富士苹果",
            "qty_milli": 1000 + n % 900,
            "unit_price_fen": 1280,
            "weighed": True,
            "category": "fresh",
        },
        {
            "sku": "6902538004045",
            "name": "伊利纯牛奶 250ml",
            "qty_milli": 3000,
            "unit_price_fen": 350,
            "discount_fen": 50,
        },
        {"sku": "6934502301851", "name": "奥利奥饼干", "qty_milli": 1000, "unit_price_fen": 990},
    ]
    total = sum(
        line_total(x["qty_milli"], x["unit_price_fen"], x.get("discount_fen", 0)) for x in lines
    )
    # cash, as a lane books it: a card or QR tender must name a payment taken through the
    # gateway first (docs/payments.md), and the chain tests need no payment devices
    pay = {"tender": "cash", "amount_fen": (total // 1000 + 1) * 1000 if n % 2 else total}
    body: dict[str, Any] = {"cashier": "张丽", "lines": lines, "payments": [pay]}
    if member:
        body["member_id"] = member
    return body


def sale_event(seq: int, store: str = "s9", gateway: str = "g1", **over: object) -> dict:
    """A sale.completed envelope as the hub ingests it (fixed time, card payment); `over`
    replaces top-level fields, e.g. type=... for a bad one."""
    body = sale_body(seq)
    lines = [
        {
            **x,
            "discount_fen": x.get("discount_fen", 0),
            "weighed": x.get("weighed", False),
            "total_fen": line_total(x["qty_milli"], x["unit_price_fen"], x.get("discount_fen", 0)),
        }
        for x in body["lines"]
    ]
    total = sum(x["total_fen"] for x in lines)
    env = {
        "id": new_id(),
        "seq": seq,
        "store": store,
        "gateway": gateway,
        "type": "sale.completed",
        "v": 1,
        "occurred_at": "2026-11-23T02:00:00Z",
        "body": {
            "sale_id": "x",
            "lane": "1",
            "cashier": "c",
            "receipt_no": f"r{seq}",
            "business_day": "2026-11-23",
            "lines": lines,
            "total_fen": total,
            "payments": [{"tender": "card", "amount_fen": total}],
        },
    }
    env.update(over)
    return env


def shift_event(seq: int, store: str = "s9", gateway: str = "g1", **body: object) -> dict:
    """A shift.closed envelope as the hub ingests it (three sales, 45.00, 1.00 short in cash);
    `body` replaces body fields, e.g. shift_id=... for a bad one."""
    return {
        "id": new_id(),
        "seq": seq,
        "store": store,
        "gateway": gateway,
        "type": "shift.closed",
        "v": 1,
        "occurred_at": "2026-11-23T12:00:00Z",
        "body": {
            "shift_id": "sh1",
            "lane": "1",
            "cashier": "c",
            "opened_at": "2026-11-23T01:00:00Z",
            "closed_at": "2026-11-23T12:00:00Z",
            "sales_count": 3,
            "sales_fen": 4500,
            "tenders": [{"tender": "cash", "expected_fen": 4500, "counted_fen": 4400}],
            **body,
        },
    }


# a sale.completed with what a receipt shows: a weighed line with a long name, a discount,
# split tender with change, a member
RECEIPT_ENVELOPE: dict[str, Any] = {
    "id": "0190b3c0-0000-7000-8000-000000000001",
    "occurred_at": "2024-05-01T04:05:06Z",
    "body": {
        "sale_id": "0190b3c0-0000-7000-8000-000000000001",
        "lane": "1",
        "cashier": "张丽",
        "receipt_no": "20240501-1-0007",
        "business_day": "2024-05-01",
        "lines": [
            {"sku": "6901028075015", "name": "农夫山泉 550ml", "qty_milli": 2000,
             "unit_price_fen": 200, "discount_fen": 0, "total_fen": 400, "weighed": False},
            {"sku": "2000123", "name": "红富士苹果（山东烟台）特级大果 5kg装", "qty_milli": 1250,
             "unit_price_fen": 1280, "discount_fen": 100, "total_fen": 1500, "weighed": True},
        ],
        "discounts": [{"code": "M10", "description": "满10减1", "amount_fen": 100}],
        "total_fen": 1800,
        "payments": [{"tender": "wechat", "amount_fen": 1000},
                     {"tender": "cash", "amount_fen": 1000}],
        "change_fen": 200,
        "member_id": "M8",
        "member": {"name": "王芳", "tier": "金卡", "points_earned": 18, "points_balance": 318},
    },
}  # fmt: skip
RECEIPT_STORE = Store(
    name="好邻居便利店",
    header=("北京市朝阳区建国路1号", "电话 010-12345678"),
    footer=("谢谢惠顾 欢迎再来",),
    qr_url="https://e.example.cn/r/{sale_id}",
)
