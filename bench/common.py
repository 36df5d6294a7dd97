"""Shared bits of the benchmarks: envelopes like a lane makes them, percentiles, a broker."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from protocols.envelope import iso, new_id, utc_now
from protocols.pricing import line_total
from tests.conftest import sale_body


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
    topic = f"storegw/v1/{store}/{gateway}/events"
    envs = [sale_envelope(i, store, gateway) for i in range(1, n + 1)]
    return [
        (topic, json.dumps({"v": 1, "events": envs[i : i + per]}, ensure_ascii=False).encode())
        for i in range(0, n, per)
    ]


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n"
        )
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
