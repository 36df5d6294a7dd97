"""A hub's books fed as the stores feed them: members registered, sale lines, and `Till`, one
gateway's events numbered as its journal would, through the hub's real ingest."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from hub.app import ingest_handlers
from hub.db import Database
from hub.ingest.service import Ingest, PassResult
from hub.members.service import Members, Registration
from protocols import topics
from protocols.envelope import encode_batch, iso
from transport.ids import new_id


def register(db: Database, members: Members, phone: str | None = None, **kw: Any) -> str:
    with db.transaction() as s:
        return members.register(s, Registration(phone=phone, **kw)).member.id


def line(sku: str, fen: int, category: str | None = None, qty_milli: int = 1000) -> dict:
    unit = fen * 1000 // qty_milli
    return {
        "sku": sku,
        "name": f"item {sku}",
        "qty_milli": qty_milli,
        "unit_price_fen": unit,
        "total_fen": (qty_milli * unit + 500) // 1000,
        "category": category,
    }


class Till:
    """One gateway's events, numbered as its journal would, fed to the hub's real ingest."""

    def __init__(self, db: Database, store: str = "s1", gateway: str = "g1") -> None:
        self.db = db
        self.ingest = Ingest(db, ingest_handlers())
        self.store, self.gateway = store, gateway
        self.seq = 0
        self.refund_left: dict[str, list[int]] = {}

    def _env(self, type_: str, body: dict[str, Any], at: datetime | None) -> dict[str, Any]:
        self.seq += 1
        ev_id = new_id()
        for k in ("sale_id", "refund_id"):
            if body.get(k) == "@id":
                body[k] = ev_id
        return {
            "id": ev_id,
            "seq": self.seq,
            "store": self.store,
            "gateway": self.gateway,
            "type": type_,
            "v": 1,
            "occurred_at": iso(at or datetime.now(UTC)),
            "body": body,
        }

    def sale(
        self,
        lines: list[dict] | None = None,
        *,
        member: str | None = None,
        coupons: list[str] = (),  # type: ignore[assignment]
        discounts: list[dict] = (),  # type: ignore[assignment]
        points_fen: int = 0,
        reservation: str | None = None,
        at: datetime | None = None,
        day: date | None = None,
    ) -> dict[str, Any]:
        lines = lines or [line("A", 10000)]
        total = sum(x["total_fen"] for x in lines) - sum(d["amount_fen"] for d in discounts)
        pays = []
        if points_fen:
            pays.append({"tender": "points", "amount_fen": points_fen, "ref": reservation})
        if total - points_fen > 0:
            pays.append({"tender": "wechat", "amount_fen": total - points_fen, "ref": "wx"})
        at = at or datetime.now(UTC)
        body = {
            "sale_id": "@id",
            "lane": "1",
            "cashier": "张丽",
            "receipt_no": f"r{self.seq + 1}",
            "business_day": (day or at.date()).isoformat(),
            "lines": lines,
            "discounts": list(discounts),
            "total_fen": total,
            "payments": pays,
            "change_fen": 0,
            "member_id": member,
            "coupons": list(coupons),
            "points_reservation": reservation,
        }
        return self._env("sale.completed", body, at)

    def refund(
        self, sale: dict[str, Any], amount_fen: int | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        amount = amount_fen if amount_fen is not None else sale["body"]["total_fen"]
        # refund lines must name the sale's lines and stay within each (hub/sales/refunds.py):
        # take the amount from what this till has not refunded yet, line by line
        left = self.refund_left.setdefault(
            sale["id"], [ln["total_fen"] for ln in sale["body"]["lines"]]
        )
        lines, rest = [], amount
        for n, ln in enumerate(sale["body"]["lines"]):
            if take := min(rest, left[n]):
                lines.append({"sku": ln["sku"], "qty_milli": 1, "amount_fen": take})
                left[n], rest = left[n] - take, rest - take
        if rest or not lines:  # more than the sale: the hub refuses it
            lines.append(
                {"sku": sale["body"]["lines"][0]["sku"], "qty_milli": 1, "amount_fen": rest}
            )
        body = {
            "refund_id": "@id",
            "sale_id": sale["id"],
            "lane": "1",
            "cashier": "张丽",
            "reason": "customer returned it",
            "lines": lines,
            "total_fen": amount,
            "payments": [{"tender": "wechat", "amount_fen": amount}],
        }
        return self._env("sale.refunded", body, at)

    def send(self, *envs: dict[str, Any]) -> PassResult:
        payload = encode_batch([json.dumps(e, ensure_ascii=False) for e in envs])
        return self.ingest.apply([(topics.events(self.store, self.gateway), payload)])
