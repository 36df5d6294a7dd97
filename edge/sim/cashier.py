"""A simulated cashier: realistic baskets from a small Chinese convenience / fresh catalog,
fen prices, weighed fruit, members on some sales, cash with change or QR payment. Used by
`storegw demo` and the benchmarks."""

from __future__ import annotations

import random
from typing import Any

from protocols.pricing import line_total

# sku, name, unit price in fen (per kg when weighed), category, weighed
CATALOG: list[tuple[str, str, int, str, bool]] = [
    ("6901028075015", "农夫山泉 550ml", 200, "drinks", False),
    ("6921168509256", "元气森林白桃苏打水", 550, "drinks", False),
    ("6902083886417", "娃哈哈AD钙奶 4瓶", 990, "drinks", False),
    ("6920459905012", "康师傅红烧牛肉面", 450, "instant", False),
    ("6902538004045", "伊利纯牛奶 250ml", 350, "dairy", False),
    ("6907992512570", "蒙牛酸酸乳", 300, "dairy", False),
    ("6934502301851", "奥利奥夹心饼干", 990, "snacks", False),
    ("6924743915763", "乐事薯片 原味", 790, "snacks", False),
    ("6901939621257", "旺仔牛奶糖", 1250, "snacks", False),
    ("6903148144329", "清风抽纸 3包", 1590, "household", False),
    ("6920174736731", "海天酱油 500ml", 1390, "grocery", False),
    ("6902265360049", "五常大米 5kg", 6990, "grocery", False),
    ("2000101", "富士苹果", 1280, "fresh", True),
    ("2000102", "海南香蕉", 698, "fresh", True),
    ("2000103", "砂糖橘", 998, "fresh", True),
    ("2000201", "精品五花肉", 3580, "fresh", True),
]
CASHIERS = ["张丽", "王芳", "李娜", "刘洋", "陈静"]


def basket(rng: random.Random, members: int = 500) -> dict[str, Any]:
    """One sale body for the lane API."""
    lines = []
    for sku, name, price, category, weighed in rng.sample(CATALOG, rng.randint(1, 6)):
        qty = rng.randint(300, 2500) if weighed else 1000 * rng.choice((1, 1, 1, 2, 3))
        discount = 0
        if not weighed and qty >= 2000 and rng.random() < 0.3:  # 第二件半价 style
            discount = price // 2
        lines.append(
            {
                "sku": sku,
                "name": name,
                "qty_milli": qty,
                "unit_price_fen": price,
                "discount_fen": discount,
                "weighed": weighed,
                "category": category,
            }
        )
    total = sum(line_total(x["qty_milli"], x["unit_price_fen"], x["discount_fen"]) for x in lines)
    if rng.random() < 0.35:  # cash, rounded up to the next note
        note = rng.choice((1000, 2000, 5000, 10000))
        payment = {"tender": "cash", "amount_fen": -(-total // note) * note}
    else:
        payment = {
            "tender": rng.choice(("wechat", "alipay", "card")),
            "amount_fen": total,
            "ref": f"T{rng.getrandbits(48):012x}",
        }
    sale: dict[str, Any] = {"cashier": rng.choice(CASHIERS), "lines": lines, "payments": [payment]}
    if rng.random() < 0.4:
        sale["member_id"] = f"M{rng.randint(1, members):06d}"
    return sale
