"""Events as the stores send them, for the refund tests: one 60.00 sale with two lines
(A: 1 × 40.00, B: 2 × 10.00) and refunds of its lines."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from protocols import topics
from transport.ids import new_id

LINES = [
    {"sku": "A-40", "name": "电饭煲内胆", "qty_milli": 1000, "unit_price_fen": 4000},
    {"sku": "B-10", "name": "保温杯盖", "qty_milli": 2000, "unit_price_fen": 1000},
]
SOLD = 6000


def sale_request() -> dict[str, Any]:
    """The lane's POST body of the 60.00 sale, paid in cash."""
    return {
        "cashier": "王芳",
        "lines": LINES,
        "payments": [{"tender": "cash", "amount_fen": SOLD}],
    }


def refund_request(sale_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(x["amount_fen"] for x in lines)
    return {
        "cashier": "李强",
        "sale_id": sale_id,
        "reason": "顾客退货",
        "lines": lines,
        "payments": [{"tender": "cash", "amount_fen": total}],
    }


FULL = [
    {"sku": "A-40", "qty_milli": 1000, "amount_fen": 4000},
    {"sku": "B-10", "qty_milli": 2000, "amount_fen": 2000},
]
LINE_B = [{"sku": "B-10", "qty_milli": 2000, "amount_fen": 2000}]


class Stores:
    """Envelopes numbered per gateway, as journals number them."""

    def __init__(self) -> None:
        self.seq: dict[tuple[str, str], int] = defaultdict(int)

    def _env(self, store: str, gw: str, type_: str, body: dict[str, Any], at: str) -> dict:
        self.seq[(store, gw)] += 1
        eid = new_id()
        return {
            "id": eid,
            "seq": self.seq[(store, gw)],
            "store": store,
            "gateway": gw,
            "type": type_,
            "v": 1,
            "occurred_at": at,
            "body": {**body, ("sale_id" if type_ == "sale.completed" else "refund_id"): eid},
        }

    def sale(self, store: str = "sa", gw: str = "g1") -> dict:
        lines = [
            {
                **x,
                "discount_fen": 0,
                "weighed": False,
                "category": None,
                "total_fen": x["qty_milli"] * x["unit_price_fen"] // 1000,
            }
            for x in LINES
        ]
        body = {
            "lane": "1",
            "cashier": "王芳",
            "receipt_no": "20261123-1-0001",
            "business_day": "2026-11-23",
            "lines": lines,
            "total_fen": SOLD,
            "payments": [{"tender": "cash", "amount_fen": SOLD}],
        }
        return self._env(store, gw, "sale.completed", body, "2026-11-23T02:00:00Z")

    def refund(
        self,
        sale_id: str,
        lines: list[dict[str, Any]],
        store: str = "sb",
        gw: str = "g1",
        at: str = "2026-11-23T03:00:00Z",
        claim_id: str | None = None,
    ) -> dict:
        total = sum(x["amount_fen"] for x in lines)
        body = {
            "sale_id": sale_id,
            "lane": "2",
            "cashier": "李强",
            "lines": lines,
            "total_fen": total,
            "payments": [{"tender": "cash", "amount_fen": total}],
            "claim_id": claim_id,
        }
        return self._env(store, gw, "sale.refunded", body, at)


def message(*envs: dict) -> tuple[str, bytes]:
    """One batch of one gateway's events, as its uplink publishes it."""
    store, gw = envs[0]["store"], envs[0]["gateway"]
    return topics.events(store, gw), json.dumps({"v": 1, "events": list(envs)}).encode()
