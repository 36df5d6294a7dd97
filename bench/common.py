"""Shared bits of the benchmarks: envelopes like a lane makes them, percentiles, a broker.
The processes and sample bodies come from the test rig (`rig/`), never from tests/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocols import topics
from protocols.envelope import iso, utc_now
from protocols.pricing import line_total
from rig import Broker, sale_body
from transport.ids import new_id


def sale_envelope(seq: int, store: str = "b1", gateway: str = "g1") -> dict[str, Any]:
    """A 5-line sale.completed, as the lane API would journal it."""
    body = sale_body(seq)
    lines = [
        {
            "sku": x["sku"],
            "name": x["name"],
            "qty_milli": x["qty_milli"],
            "unit_price_fen": x["unit_price_fen"],
            "discount_fen": x.get("discount_fen", 0),
            "total_fen": line_total(x["qty_milli"], x["unit_price_fen"], x.get("discount_fen", 0)),
            "weighed": x.get("weighed", False),
            "category": x.get("category"),
        }
        for x in body["lines"]
    ]
    total = sum(x["total_fen"] for x in lines)
    paid = body["payments"][0]["amount_fen"]
    eid = new_id()
    return {
        "id": eid,
        "seq": seq,
        "store": store,
        "gateway": gateway,
        "type": "sale.completed",
        "v": 1,
        "occurred_at": iso(utc_now()),
        "body": {
            "sale_id": eid,
            "lane": "1",
            "cashier": "张丽",
            "receipt_no": f"20261123-1-{seq:05d}",
            "business_day": "2026-11-23",
            "lines": lines,
            "discounts": [],
            "total_fen": total,
            "payments": body["payments"],
            "change_fen": paid - total,
            "member_id": None,
            "member": None,
            "coupons": [],
        },
    }


def batches(n: int, per: int, store: str = "b1", gateway: str = "g1") -> list[tuple[str, bytes]]:
    topic = topics.events(store, gateway)
    envs = [sale_envelope(i, store, gateway) for i in range(1, n + 1)]
    return [
        (topic, json.dumps({"v": 1, "events": envs[i : i + per]}, ensure_ascii=False).encode())
        for i in range(0, n, per)
    ]


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def mosquitto(workdir: Path) -> Broker:
    """A broker of the benchmark's own, started: the test rig's, so both start it one way."""
    broker = Broker(workdir)
    broker.start()
    return broker
