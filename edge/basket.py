"""The basket a lane is building: one open basket per lane in the gateway's SQLite (so a
restart keeps a half-built sale), suspended baskets beside it, and baskets staff build on a
phone and send to a lane. Every change is priced again by the pricing engine with the store's
snapshots, and the new basket is published on the lane bus (the cashier page's SSE).

Scans reach the basket from the lane bus (`LaneBus.listen`). This module is the basket itself:
its lines, scans, quantities, voids, member, suspend/resume and storage. Its parts, each with
the basket in hand: coupons (`edge/basket_coupons.py`), the manager's override of the margin
floor (`edge/margin_override.py`), and tenders with the checkout (`edge/tenders.py`)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from edge.coupons import coupon_why
from edge.devices.base import DeviceError
from edge.lane import Lanes
from edge.lane_bus import LaneEvent
from edge.members_cache import MemberDesk
from edge.pages.pairing import STAFF
from edge.rpc import HubCallError
from edge.snapshots import Snapshots
from protocols import coupons, pricing
from protocols.codes import OtherScan, ProductScan, WeighedScan, classify, ean
from transport.ids import new_id

if TYPE_CHECKING:
    from edge.basket_coupons import BasketCoupons
    from edge.margin_override import MarginOverride
    from edge.tenders import Tenders

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS baskets (
        id TEXT PRIMARY KEY,
        lane TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'suspended', 'done')),
        label TEXT NOT NULL DEFAULT '',
        doc TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    # one basket in the making per lane (or per staff phone): the database says so
    "CREATE UNIQUE INDEX IF NOT EXISTS baskets_one_open ON baskets (lane) WHERE state = 'open'",
]
MAX_LINES = 500
MAX_QTY_MILLI = 10_000_000


class BasketError(Exception):
    """A refusal the cashier reads: status and reason; `why` names it for the page's words
    (edge/pages/i18n.py), when the page has its own words for it."""

    def __init__(self, status: int, reason: str, why: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason, self.why = status, reason, why


def now() -> datetime:
    return datetime.now(UTC)


class Catalog:
    """Barcode / PLU / sku → item, from the catalog and prices snapshots; rebuilt when either
    version changes."""

    def __init__(self, snapshots: Snapshots) -> None:
        self.snapshots = snapshots
        self._key: tuple[Any, ...] = ()
        self._index: dict[str, dict[str, Any]] = {}

    def index(self) -> dict[str, dict[str, Any]]:
        v = self.snapshots.versions()
        key = (v.get("catalog"), v.get("prices"))
        if key != self._key:
            cat = self.snapshots.get("catalog") or {"items": []}
            prices = (self.snapshots.get("prices") or {"prices": {}})["prices"]
            idx: dict[str, dict[str, Any]] = {}
            for it in cat["items"]:
                if it["sku"] not in prices:
                    continue  # not priced in this store: not sellable here
                item = {**it, "price_fen": prices[it["sku"]]}
                for code in [it["sku"], *it.get("barcodes", [])]:
                    idx.setdefault(code, item)
                    if code.isdigit() and ean.format_of(code):
                        idx.setdefault(ean.gtin14(code), item)
            self._index, self._key = idx, key
        return self._index

    def find(self, *codes: str) -> dict[str, Any] | None:
        idx = self.index()
        for code in codes:
            if code and code in idx:
                return idx[code]
        return None

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Items whose name or sku contains `text` (the staff page's look-up)."""
        t = text.strip().lower()
        seen: dict[str, dict[str, Any]] = {}
        for item in self.index().values():
            if t in item["name"].lower() or t in item["sku"].lower():
                seen.setdefault(item["sku"], item)
            if len(seen) >= limit:
                break
        return list(seen.values())


class Baskets:
    # its parts, set by the gateway as it assembles them (edge/gateway.py): coupon codes
    # scanned go to `coupons`, payment codes to `tenders`
    coupons: BasketCoupons
    tenders: Tenders
    override: MarginOverride

    def __init__(
        self,
        conn: sqlite3.Connection,
        lanes: Lanes,
        snapshots: Snapshots,
        devices: Any,
        members: MemberDesk,
        min_margin_bp: int = 0,
    ) -> None:
        self.conn = conn
        for sql in SCHEMA:
            conn.execute(sql)
        self.lanes = lanes
        self.bus = lanes.ctx.lanes
        self.snapshots = snapshots
        self.catalog = Catalog(snapshots)
        self.devices = devices
        self.members = members
        self.policy = pricing.Policy(min_margin_bp=min_margin_bp)
        self.store = lanes.journal.store
        self.locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- storage ---------------------------------------------------------------------------
    def load(self, lane: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT id, doc FROM baskets WHERE lane = ? AND state = 'open'", (lane,)
        ).fetchone()
        if row:
            return {**json.loads(row[1]), "id": row[0]}
        doc = {"id": new_id(), "lines": [], "member": None, "payments": [], "coupons": []}
        self.conn.execute(
            "INSERT INTO baskets (id, lane, state, doc, updated_at) VALUES (?, ?, 'open', ?, ?)",
            (doc["id"], lane, json.dumps(doc, ensure_ascii=False), now().isoformat()),
        )
        return doc

    def save(self, doc: dict[str, Any]) -> None:
        self.conn.execute(
            "UPDATE baskets SET doc = ?, updated_at = ? WHERE id = ? AND state = 'open'",
            (json.dumps(doc, ensure_ascii=False), now().isoformat(), doc["id"]),
        )

    def booked(self, doc: dict[str, Any], at: datetime) -> None:
        """The basket is a sale now: the lane's next load opens a new one."""
        self.conn.execute(
            "UPDATE baskets SET state = 'done', updated_at = ? WHERE id = ?",
            (at.isoformat(), doc["id"]),
        )

    # --- pricing ---------------------------------------------------------------------------
    def member_terms(self, doc: dict[str, Any]) -> pricing.Member | None:
        m = doc.get("member")
        if not m:
            return None
        return pricing.Member(tier=m.get("tier"), discount_pct=m.get("discount_pct") or 100)

    @staticmethod
    def _terms(doc: dict[str, Any]) -> list[coupons.Terms]:
        return [msgspec.convert(c["terms"], coupons.Terms) for c in doc.get("coupons") or []]

    def price(self, doc: dict[str, Any], at: datetime) -> tuple[list[pricing.Item], Any, Any]:
        items = [pricing.Item.of_line(ln) for ln in doc["lines"]]
        version, promos = self.snapshots.promotions()
        if not items:
            return items, None, version
        got = pricing.price(
            items,
            promos,
            at=at,
            member=self.member_terms(doc),
            coupons_presented=self._terms(doc),
            store=self.store,
            policy=self.policy,
            override=bool(doc.get("override")),
        )
        return items, got, version

    @staticmethod
    def savings(doc: dict[str, Any], got: Any) -> list[dict[str, Any]]:
        """The engine's savings, a coupon's under its name and code (the receipt prints it)."""
        names = {c["code"]: f"{c['name']} {c['display']}".strip() for c in doc.get("coupons") or []}
        return [
            {
                "kind": s.kind,
                "ref": s.ref,
                "saved_fen": s.saved_fen,
                "name": names.get(s.ref, s.name) if s.kind == "coupon" else s.name,
            }
            for s in (got.savings if got else [])
        ]

    @staticmethod
    def held(got: Any) -> list[int]:
        """The lines (1-based) the margin floor holds: at their floor while the floor kept
        some discount from the customer."""
        if not got or not got.held_by_floor_fen:
            return []
        return [
            n
            for n, p in enumerate(got.lines, 1)
            if p.floor_fen and p.total_fen <= p.floor_fen and not p.below_floor
        ]

    @staticmethod
    def basis(doc: dict[str, Any]) -> list[Any]:
        """What a manager's override was given for: the lines, coupons and member terms."""
        m = doc.get("member") or {}
        return [
            [[ln["sku"], ln["qty_milli"], ln["unit_price_fen"]] for ln in doc["lines"]],
            sorted(c["code"] for c in doc.get("coupons") or []),
            [m.get("tier"), m.get("discount_pct")],
        ]

    def keep_override(self, lane: str, doc: dict[str, Any]) -> None:
        """An override covers the basket the manager saw: any change to it ends the override
        (the floor holds again until a manager approves the new basket)."""
        ov = doc.get("override")
        if ov and ov["basis"] != self.basis(doc):
            del doc["override"]
            log.info("lane %s: basket %s changed: %s's price override ends", lane, doc["id"],
                     ov["by"])  # fmt: skip

    def points_estimate(self, doc: dict[str, Any], total_fen: int) -> int | None:
        """1 point per yuan of money (the hub's base rule) × the tier's multiplier, rounded
        down: what the receipt promises as an estimate (the hub's earning rules decide)."""
        m = doc.get("member")
        if not m:
            return None
        money = total_fen - sum(
            p["amount_fen"] for p in doc["payments"] if p["tender"] in ("points", "coupon")
        )
        tiers = (self.snapshots.get("tiers") or {"tiers": []})["tiers"]
        mult = next((t["points_multiplier_pct"] for t in tiers if t["code"] == m.get("tier")), 100)
        return max(money, 0) * mult // 10_000

    def view(self, lane: str, doc: dict[str, Any]) -> dict[str, Any]:
        _, got, version = self.price(doc, now())
        lines = []
        held = self.held(got)
        for i, ln in enumerate(doc["lines"]):
            p = got.lines[i] if got else None
            lines.append(
                {
                    **ln,
                    "no": i + 1,
                    "gross_fen": p.gross_fen if p else 0,
                    "discount_fen": p.discount_fen if p else 0,
                    "total_fen": p.total_fen if p else 0,
                    "floor_fen": p.floor_fen if p else 0,
                    # held: the floor kept a discount back; below: a manager's override
                    "floor": "held" if i + 1 in held else "below" if p and p.below_floor else None,
                }
            )
        saved = {s.ref: s.saved_fen for s in (got.savings if got else []) if s.kind == "coupon"}
        refused = dict(got.coupons_refused) if got else {}
        ov = doc.get("override")
        total = got.total_fen if got else 0
        paid = sum(p["amount_fen"] for p in doc["payments"])
        return {
            "id": doc["id"],
            "lane": lane,
            "lines": lines,
            "member": doc.get("member"),
            "savings": self.savings(doc, got),
            "coupons": [
                {
                    "code": c["code"],
                    "display": c["display"],
                    "name": c["name"],
                    "saved_fen": saved.get(c["code"], 0),
                    "refused": refused.get(c["code"]),  # not applied now (and why)
                    "why": coupon_why(refused[c["code"]]) if c["code"] in refused else None,
                }
                for c in doc.get("coupons") or []
            ],
            # what the margin floor keeps from the customer now, and on which lines
            "floor": {"held_fen": got.held_by_floor_fen if got else 0, "lines": held},
            "override": {k: ov[k] for k in ("by", "at", "lines")} if ov else None,
            "handouts": [msgspec.to_builtins(h) for h in (got.handouts if got else [])],
            "gross_fen": got.gross_fen if got else 0,
            "discount_fen": got.discount_fen if got else 0,
            "total_fen": total,
            "payments": doc["payments"],
            "paid_fen": paid,
            "due_fen": max(total - paid, 0),
            "points_estimate": self.points_estimate(doc, total),
            "promotions_version": version,
            "suspended": self.suspended(lane),
        }

    def publish(self, lane: str, view: dict[str, Any]) -> None:
        self.bus.publish(lane, {"type": "basket", "basket": view})

    async def change(self, lane: str, op: Any) -> dict[str, Any]:
        """Apply `op(doc)` (may be async) to the lane's open basket, save, price, publish."""
        self.check(lane)
        async with self.locks[lane]:
            doc = self.load(lane)
            if doc["payments"] and op is not None:
                raise BasketError(409, "payment has started: finish or void the payments first")
            if op is not None:
                res = op(doc)
                if asyncio.iscoroutine(res):
                    await res
                self.keep_override(lane, doc)
                self.save(doc)
            view = self.view(lane, doc)
        self.publish(lane, view)
        return view

    def check(self, lane: str) -> None:
        """A lane must be declared; a staff phone's basket ("~staff<n>") is no lane's yet."""
        if not lane.startswith(STAFF):
            self.lanes.declared.check(lane)

    async def get(self, lane: str) -> dict[str, Any]:
        return await self.change(lane, None)

    # --- what the cashier does -------------------------------------------------------------
    def _line(self, item: dict[str, Any], qty: int, **more: Any) -> dict[str, Any]:
        return {
            "sku": item["sku"],
            "name": item["name"],
            "qty_milli": qty,
            "unit_price_fen": item["price_fen"],
            "cost_fen": item.get("cost_fen"),
            "category": item.get("category"),
            "weighed": item.get("unit") == "kg",
            **more,
        }

    @staticmethod
    def _append(doc: dict[str, Any], line: dict[str, Any]) -> None:
        if len(doc["lines"]) >= MAX_LINES:
            raise BasketError(409, f"a basket holds at most {MAX_LINES} lines")
        same = next(
            (
                ln
                for ln in doc["lines"]
                if not ln["weighed"] and not line["weighed"] and ln["sku"] == line["sku"]
            ),
            None,
        )
        if same is not None:  # a second scan of a piece good: one more on its line
            same["qty_milli"] = min(same["qty_milli"] + line["qty_milli"], MAX_QTY_MILLI)
        else:
            doc["lines"].append(line)

    async def scan(self, lane: str, code: str) -> dict[str, Any]:
        """A barcode, label-scale code or PLU (scanned or typed); a coupon's code too."""
        if self.coupons.is_coupon(code):
            return await self.coupons.add(lane, code)
        layouts = [lay for d in self.devices.on_lane(lane, "scanner") for lay in d.layouts]
        seen = classify(code, layouts)

        async def op(doc: dict[str, Any]) -> None:
            if isinstance(seen, WeighedScan):
                it = seen.item
                item = self.catalog.find(it.item_code, it.item_code.lstrip("0"))
                if item is None:
                    raise BasketError(404, f"label item {it.item_code} is not in the catalog")
                if it.weight_g:
                    line = self._line(item, it.weight_g, weighed=True, label=seen.code)
                    if it.unit_price_fen:
                        line["unit_price_fen"] = it.unit_price_fen
                else:  # an amount-only label: one piece at the printed amount
                    line = self._line(item, 1000, weighed=False, label=seen.code)
                    line["unit_price_fen"] = it.amount_fen or item["price_fen"]
                doc["lines"].append(line)
                return
            if isinstance(seen, ProductScan):
                item = self.catalog.find(seen.gtin, seen.code)
            elif isinstance(seen, OtherScan):
                item = self.catalog.find(seen.text)
            else:
                item = self.catalog.find(*(str(v) for v in seen.event().values()))
            if item is None:
                raise BasketError(404, f"{code.strip()}: not in the catalog")
            if item.get("unit") == "kg":
                grams = await self.weigh(lane)
                self._append(doc, self._line(item, grams))
            else:
                self._append(doc, self._line(item, 1000))

        return await self.change(lane, op)

    async def weigh(self, lane: str) -> int:
        from edge.devices.lanes_io import read_weight  # the scale's stable, sellable weight

        try:
            _, weight = await read_weight(self.devices, lane)
        except DeviceError as err:
            raise BasketError(409, str(err)) from None
        return weight.grams

    async def set_qty(self, lane: str, no: int, qty_milli: int) -> dict[str, Any]:
        def op(doc: dict[str, Any]) -> None:
            ln = self._line_no(doc, no)
            if ln["weighed"]:
                raise BasketError(409, "a weighed line's quantity comes from the scale")
            if not 1000 <= qty_milli <= MAX_QTY_MILLI or qty_milli % 1000:
                raise BasketError(400, "qty_milli: whole pieces, 1000 to 10000000")
            ln["qty_milli"] = qty_milli

        return await self.change(lane, op)

    async def void(self, lane: str, no: int) -> dict[str, Any]:
        def op(doc: dict[str, Any]) -> None:
            self._line_no(doc, no)
            log.info("lane %s: line %d voided (%s)", lane, no, doc["lines"][no - 1]["sku"])
            del doc["lines"][no - 1]

        return await self.change(lane, op)

    @staticmethod
    def _line_no(doc: dict[str, Any], no: int) -> dict[str, Any]:
        if not 1 <= no <= len(doc["lines"]):
            raise BasketError(404, f"no line {no} (the basket has {len(doc['lines'])})")
        return doc["lines"][no - 1]

    async def identify(self, lane: str, query: dict[str, str]) -> dict[str, Any]:
        found = await self.members.identify(query)

        def op(doc: dict[str, Any]) -> None:
            doc["member"] = found

        return await self.change(lane, op)

    async def forget_member(self, lane: str) -> dict[str, Any]:
        def op(doc: dict[str, Any]) -> None:
            doc["member"] = None

        return await self.change(lane, op)

    # --- suspend / resume / send -----------------------------------------------------------
    def suspended(self, lane: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, label, doc, updated_at FROM baskets WHERE lane = ? AND state = "
            "'suspended' ORDER BY updated_at",
            (lane,),
        )
        return [
            {"id": r[0], "label": r[1], "lines": len(json.loads(r[2])["lines"]), "at": r[3]}
            for r in rows
        ]

    async def suspend(self, lane: str, label: str = "", to_lane: str | None = None) -> dict:
        """Park the open basket (on this lane, or sent to `to_lane`: the staff page)."""
        target = to_lane or lane
        self.lanes.declared.check(target)
        async with self.locks[lane]:
            doc = self.load(lane)
            if not doc["lines"]:
                raise BasketError(409, "the basket is empty: nothing to suspend")
            if doc["payments"]:
                raise BasketError(409, "payment has started: a paid basket cannot be suspended")
            cur = self.conn.execute(
                "UPDATE baskets SET state = 'suspended', lane = ?, label = ?, updated_at = ? "
                "WHERE id = ? AND state = 'open'",
                (target, label[:64], now().isoformat(), doc["id"]),
            )
            if cur.rowcount != 1:
                raise BasketError(409, "the basket changed meanwhile: try again")
        log.info("lane %s: basket %s suspended to lane %s", lane, doc["id"], target)
        view = await self.get(lane)
        if target != lane:
            self.publish(target, await self.get(target))
        return view

    async def resume(self, lane: str, basket_id: str) -> dict[str, Any]:
        self.check(lane)
        async with self.locks[lane]:
            doc = self.load(lane)
            if doc["lines"]:
                raise BasketError(409, "suspend or finish the basket in the making first")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute("DELETE FROM baskets WHERE id = ?", (doc["id"],))
                cur = self.conn.execute(  # the claim: only one lane resumes it
                    "UPDATE baskets SET state = 'open', updated_at = ? "
                    "WHERE id = ? AND lane = ? AND state = 'suspended'",
                    (now().isoformat(), basket_id, lane),
                )
                if cur.rowcount != 1:
                    raise BasketError(404, f"no suspended basket {basket_id} on lane {lane}")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return await self.get(lane)

    # --- the lane bus: scans and payment codes ---------------------------------------------
    def take(self, lane: str, event: LaneEvent) -> None:
        """A scan or a payment code at a declared lane: the gateway's lane-bus listener hands
        them over (edge/gateway.py), the first one building the baskets."""
        if event.get("type") == "scan":
            code = str(event.get("code") or event.get("text") or event.get("gtin") or "")
            coro = self.scan(lane, code)
        else:
            coro = self.tenders.pay(
                lane,
                {"tender": "qr", "auth_code": event["code"], "provider": event.get("provider")},
            )
        self.spawn(lane, coro)

    def spawn(self, lane: str, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._quietly(lane, coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quietly(self, lane: str, coro: Any) -> None:
        try:
            await coro
        except (BasketError, HubCallError) as err:  # shown to the cashier on the page
            log.info("lane %s: %s", lane, err.reason)
            why = getattr(err, "why", "")
            self.bus.publish(lane, {"type": "problem", "reason": err.reason, "why": why})
        except Exception:
            log.exception("lane %s: a scan failed", lane)
            self.bus.publish(lane, {"type": "problem", "reason": "internal error"})
