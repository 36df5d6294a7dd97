"""The basket a lane is building: one open basket per lane in the gateway's SQLite (so a
restart keeps a half-built sale), suspended baskets beside it, and baskets staff build on a
phone and send to a lane. Every change is priced again by the pricing engine with the store's
snapshots, and the new basket is published on the lane bus (the cashier page's SSE).

Scans reach the basket from the lane bus (`LaneBus.listen`); a payment code scanned while the
basket is due starts the QR payment for what is due. Tenders: cash, card terminal, QR, any
split of them. Paid in full, the basket is booked through the lane's sale path
(`Lanes.sell`), with its id as the idempotency key, so a retry never books it twice."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from edge.admin.accounts import AccountError
from edge.devices.base import DeviceError
from edge.lane import Lanes, SaleIn
from edge.lane_bus import LaneEvent
from edge.members_cache import MemberDesk
from edge.pages.pairing import STAFF
from edge.rpc import HubCallError
from edge.snapshots import Snapshots
from protocols import bounds, coupons, pricing
from protocols.codes import OtherScan, ProductScan, WeighedScan, classify, ean
from transport.ids import new_id

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
    # points redeemed while the hub was away, per member and business day (the store's cap)
    """CREATE TABLE IF NOT EXISTS points_offline (
        basket_id TEXT PRIMARY KEY,
        member_id TEXT NOT NULL,
        day TEXT NOT NULL,
        points INTEGER NOT NULL CHECK (points > 0)
    )""",
]
MAX_LINES = 500
MAX_QTY_MILLI = 10_000_000


@dataclass(frozen=True)
class PointsPolicy:
    """`[points]` of `<data dir>/store-policy.toml`: redeeming points while the hub is away is
    refused unless `offline = "allow"`, and then at most `offline_cap` points per member and
    business day at this gateway. The sale carries the points tender without a reservation;
    the hub debits it when the sale arrives (never below zero: the rest is the member's debt,
    docs/loyalty.md)."""

    offline: str = "refuse"
    offline_cap: int = 0

    @classmethod
    def load(cls, data_dir: Path) -> PointsPolicy:
        path = data_dir / "store-policy.toml"
        try:
            doc = tomllib.loads(path.read_text()).get("points", {}) if path.exists() else {}
            p = cls(str(doc.get("offline", "refuse")), int(doc.get("offline_cap", 0)))
        except (OSError, ValueError, TypeError) as err:
            log.error("%s unusable (%s): points are not redeemed while the hub is away", path, err)
            return cls()
        if p.offline not in ("refuse", "allow") or p.offline_cap < 0:
            log.error("%s: [points] offline must be refuse|allow, cap ≥ 0: refusing", path)
            return cls()
        return p


class BasketError(Exception):
    """A refusal the cashier reads: status and reason; `why` names it for the page's words
    (edge/pages/i18n.py), when the page has its own words for it."""

    def __init__(self, status: int, reason: str, why: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason, self.why = status, reason, why


# a coupon's refusal, as the hub, the claims or the engine word it → the page's words for it
_COUPON_WHY = (
    ("while the hub is away", "offline"),
    ("hub did not answer", "offline"),
    ("no connection to the hub", "offline"),
    ("no coupon", "not_found"),
    ("code:", "bad_code"),
    ("already used", "used"),
    ("was used", "used"),
    ("voided", "void"),
    ("expired", "expired"),
    ("not valid before", "not_yet"),
    ("another member", "other_member"),
    ("claimed", "claimed"),
    ("not valid in this store", "store"),
    ("does not combine", "no_stack"),
    ("the same coupon twice", "twice"),
    ("no goods", "no_goods"),
    ("needs ", "threshold"),
    ("gift item", "no_gift"),
    ("nothing left", "nothing_left"),
    ("unreachable", "offline"),
    ("timed out", "offline"),
)


def coupon_why(reason: str) -> str:
    low = reason.lower()
    return next((why for text, why in _COUPON_WHY if text in low), "other")


def _now() -> datetime:
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
    def __init__(
        self,
        conn: sqlite3.Connection,
        lanes: Lanes,
        snapshots: Snapshots,
        devices: Any,
        payments: Any,
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
        self.payments = payments
        self.members = members
        self.policy = pricing.Policy(min_margin_bp=min_margin_bp)
        self.points_policy = PointsPolicy.load(lanes.ctx.data_dir)
        self.store = lanes.journal.store
        self.claims = lanes.coupons  # coupons are claimed before they are granted
        # the gateway's manager accounts and audit log (edge/admin), set by the gateway: a
        # manager's password lets a basket go below the margin floor
        self.managers: Any = None
        self.audit: Any = None
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.bus.listen(self._on_lane_event)

    # --- storage ---------------------------------------------------------------------------
    def _load(self, lane: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT id, doc FROM baskets WHERE lane = ? AND state = 'open'", (lane,)
        ).fetchone()
        if row:
            return {**json.loads(row[1]), "id": row[0]}
        doc = {"id": new_id(), "lines": [], "member": None, "payments": [], "coupons": []}
        self.conn.execute(
            "INSERT INTO baskets (id, lane, state, doc, updated_at) VALUES (?, ?, 'open', ?, ?)",
            (doc["id"], lane, json.dumps(doc, ensure_ascii=False), _now().isoformat()),
        )
        return doc

    def _save(self, doc: dict[str, Any]) -> None:
        self.conn.execute(
            "UPDATE baskets SET doc = ?, updated_at = ? WHERE id = ? AND state = 'open'",
            (json.dumps(doc, ensure_ascii=False), _now().isoformat(), doc["id"]),
        )

    # --- pricing ---------------------------------------------------------------------------
    def _member_terms(self, doc: dict[str, Any]) -> pricing.Member | None:
        m = doc.get("member")
        if not m:
            return None
        return pricing.Member(tier=m.get("tier"), discount_pct=m.get("discount_pct") or 100)

    @staticmethod
    def _terms(doc: dict[str, Any]) -> list[coupons.Terms]:
        return [msgspec.convert(c["terms"], coupons.Terms) for c in doc.get("coupons") or []]

    def _price(self, doc: dict[str, Any], at: datetime) -> tuple[list[pricing.Item], Any, Any]:
        items = [pricing.Item.of_line(ln) for ln in doc["lines"]]
        version, promos = self.snapshots.promotions()
        if not items:
            return items, None, version
        got = pricing.price(
            items,
            promos,
            at=at,
            member=self._member_terms(doc),
            coupons_presented=self._terms(doc),
            store=self.store,
            policy=self.policy,
            override=bool(doc.get("override")),
        )
        return items, got, version

    @staticmethod
    def _savings(doc: dict[str, Any], got: Any) -> list[dict[str, Any]]:
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
    def _held(got: Any) -> list[int]:
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
    def _basis(doc: dict[str, Any]) -> list[Any]:
        """What a manager's override was given for: the lines, coupons and member terms."""
        m = doc.get("member") or {}
        return [
            [[ln["sku"], ln["qty_milli"], ln["unit_price_fen"]] for ln in doc["lines"]],
            sorted(c["code"] for c in doc.get("coupons") or []),
            [m.get("tier"), m.get("discount_pct")],
        ]

    def _keep_override(self, lane: str, doc: dict[str, Any]) -> None:
        """An override covers the basket the manager saw: any change to it ends the override
        (the floor holds again until a manager approves the new basket)."""
        ov = doc.get("override")
        if ov and ov["basis"] != self._basis(doc):
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
        _, got, version = self._price(doc, _now())
        lines = []
        held = self._held(got)
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
            "savings": self._savings(doc, got),
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

    def _publish(self, lane: str, view: dict[str, Any]) -> None:
        self.bus.publish(lane, {"type": "basket", "basket": view})

    async def change(self, lane: str, op: Any) -> dict[str, Any]:
        """Apply `op(doc)` (may be async) to the lane's open basket, save, price, publish."""
        self._check(lane)
        async with self._locks[lane]:
            doc = self._load(lane)
            if doc["payments"] and op is not None:
                raise BasketError(409, "payment has started: finish or void the payments first")
            if op is not None:
                res = op(doc)
                if asyncio.iscoroutine(res):
                    await res
                self._keep_override(lane, doc)
                self._save(doc)
            view = self.view(lane, doc)
        self._publish(lane, view)
        return view

    def _check(self, lane: str) -> None:
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
        if self._is_coupon(code):
            return await self.add_coupon(lane, code)
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

    # --- coupons: claimed at the hub before the basket grants them ---------------------------
    async def add_coupon(self, lane: str, text: Any) -> dict[str, Any]:
        """A coupon code (scanned or typed): claimed for this lane (edge/coupons.py: the hub
        holds it for this lane alone, or refuses and says why), then priced by the engine
        with the hub's terms for it. A coupon the engine does not apply is given back."""
        self._check(lane)
        if self.claims is None:
            raise BasketError(503, "coupons are not taken at this gateway")
        if not isinstance(text, str) or not 0 < len(text) <= bounds.COUPON_LEN:
            raise BasketError(400, f"code: the coupon's code, 1-{bounds.COUPON_LEN} characters",
                              "bad_code")  # fmt: skip
        try:
            code = coupons.normalize(text)
        except coupons.CodeError as err:
            raise BasketError(400, f"code: {err}", "bad_code") from None
        async with self._locks[lane]:
            doc = self._load(lane)
            if doc["payments"]:
                raise BasketError(409, "payment has started: finish or void the payments first")
            if not doc["lines"]:
                raise BasketError(409, "scan the goods first: a coupon is checked against the "
                                       "basket", "empty")  # fmt: skip
            had = doc.get("coupons") or []
            if any(c["code"] == code for c in had):
                raise BasketError(409, f"coupon {coupons.pretty(code)}: the same coupon twice",
                                  "twice")  # fmt: skip
            if len(had) >= bounds.MAX_COUPONS:
                raise BasketError(409, f"a sale takes at most {bounds.MAX_COUPONS} coupons")
            # the hub judges it on the basket as the promotions leave it (coupons after them)
            _, before, _ = self._price({**doc, "coupons": []}, _now())
            lines = [
                {
                    "sku": ln["sku"],
                    "category": ln.get("category"),
                    "qty_milli": ln["qty_milli"],
                    "unit_price_fen": ln["unit_price_fen"],
                    "discount_fen": p.discount_fen,
                    "total_fen": p.total_fen,
                }
                for ln, p in zip(doc["lines"], before.lines, strict=True)
            ]
            m = doc.get("member") or {}
            ask = {"code": code, "lines": lines, "other_codes": [c["code"] for c in had]}
            if m.get("member_id"):
                ask["member_id"] = m["member_id"]
            status, got = await self.claims.claim(lane, ask)
            if status >= 400:
                reason = got.get("error", "refused")
                log.info("lane %s: coupon %s refused: %s", lane, code, reason)
                raise BasketError(status, reason, coupon_why(reason))
            rid = got["reservation_id"]
            if not got.get("terms"):  # granted offline by the store's policy: no terms here
                await self.claims.release_claim(lane, rid)
                raise BasketError(503, "the hub is unreachable: a coupon is priced with the "
                                       "hub's terms for it, so it cannot be taken now",
                                  "offline")  # fmt: skip
            doc.setdefault("coupons", []).append(
                {
                    "code": code,
                    "display": got.get("display") or coupons.pretty(code),
                    "name": got.get("name") or "",
                    "reservation_id": rid,
                    "terms": got["terms"],
                }
            )
            _, priced, _ = self._price(doc, _now())
            why = dict(priced.coupons_refused).get(code)
            if why is not None or not any(
                s.kind == "coupon" and s.ref == code for s in priced.savings
            ):
                await self.claims.release_claim(lane, rid)
                reason = f"coupon {coupons.pretty(code)}: {why or 'nothing left to take off'}"
                log.info("lane %s: %s", lane, reason)
                raise BasketError(409, reason, coupon_why(reason))
            self._keep_override(lane, doc)
            self._save(doc)
            log.info("lane %s: coupon %s on basket %s (hold %s)", lane, code, doc["id"], rid)
            view = self.view(lane, doc)
        self._publish(lane, view)
        return view

    def _is_coupon(self, code: str) -> bool:
        """A code no item has that reads as a coupon's (its check character holds)."""
        try:
            coupons.normalize(code)
        except coupons.CodeError:
            return False
        return self.catalog.find(code.strip()) is None

    async def remove_coupon(self, lane: str, text: str) -> dict[str, Any]:
        """Take a coupon off the basket and give its claim back (the hub frees it)."""
        self._check(lane)
        try:
            code = coupons.normalize(text)
        except coupons.CodeError as err:
            raise BasketError(400, f"code: {err}", "bad_code") from None
        async with self._locks[lane]:
            doc = self._load(lane)
            if doc["payments"]:
                raise BasketError(409, "payment has started: finish or void the payments first")
            entry = next((c for c in doc.get("coupons") or [] if c["code"] == code), None)
            if entry is None:
                raise BasketError(404, f"coupon {coupons.pretty(code)} is not on this basket")
            if self.claims is not None:
                await self.claims.release_claim(lane, entry["reservation_id"])
            doc["coupons"].remove(entry)
            self._keep_override(lane, doc)
            self._save(doc)
            view = self.view(lane, doc)
        self._publish(lane, view)
        return view

    # --- the margin floor: a manager's override ----------------------------------------------
    async def override(self, lane: str, username: Any, password: Any) -> dict[str, Any]:
        """A manager lets this basket go below the margin floor with their own gateway
        account (edge/admin/accounts.py: scrypt, lock-out). The override is kept with the
        basket (who, when, which lines the floor held), written to the gateway's audit log,
        and journaled in the sale's `pricing`; any change to the basket ends it."""
        self._check(lane)
        if self.managers is None:
            raise BasketError(503, "no manager accounts on this gateway")
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise BasketError(400, "username and password: the manager's gateway account",
                              "bad_login")  # fmt: skip
        try:
            role = await self.managers.verify(username, password, f"price override at {lane}")
        except AccountError as err:
            raise BasketError(err.status, str(err), "bad_login") from None
        if role != "manager":
            log.warning("lane %s: price override refused: %s is a %s", lane, username, role)
            raise BasketError(403, f"{username} is not a manager: only a manager may sell "
                                   "below the margin floor", "not_manager")  # fmt: skip
        async with self._locks[lane]:
            doc = self._load(lane)
            if doc["payments"]:
                raise BasketError(409, "payment has started: finish or void the payments first")
            _, got, _ = self._price(doc, _now())
            held = self._held(got)
            if not held:
                raise BasketError(409, "no line is held at the margin floor: nothing to "
                                       "override", "no_floor")  # fmt: skip
            ov = {
                "by": username,
                "at": _now().isoformat(),
                "lines": held,
                "held_fen": got.held_by_floor_fen,
                "basis": self._basis(doc),
            }
            doc["override"] = ov
            self._save(doc)
            if self.audit is not None:
                self.audit.record(username, "price.override", f"lane {lane} basket {doc['id']}",
                                  after={k: ov[k] for k in ("lines", "held_fen")})  # fmt: skip
            log.warning("lane %s: %s overrode the margin floor on basket %s (lines %s, %d fen)",
                        lane, username, doc["id"], held, got.held_by_floor_fen)  # fmt: skip
            view = self.view(lane, doc)
        self._publish(lane, view)
        return view

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
        async with self._locks[lane]:
            doc = self._load(lane)
            if not doc["lines"]:
                raise BasketError(409, "the basket is empty: nothing to suspend")
            if doc["payments"]:
                raise BasketError(409, "payment has started: a paid basket cannot be suspended")
            cur = self.conn.execute(
                "UPDATE baskets SET state = 'suspended', lane = ?, label = ?, updated_at = ? "
                "WHERE id = ? AND state = 'open'",
                (target, label[:64], _now().isoformat(), doc["id"]),
            )
            if cur.rowcount != 1:
                raise BasketError(409, "the basket changed meanwhile: try again")
        log.info("lane %s: basket %s suspended to lane %s", lane, doc["id"], target)
        view = await self.get(lane)
        if target != lane:
            self._publish(target, await self.get(target))
        return view

    async def resume(self, lane: str, basket_id: str) -> dict[str, Any]:
        self._check(lane)
        async with self._locks[lane]:
            doc = self._load(lane)
            if doc["lines"]:
                raise BasketError(409, "suspend or finish the basket in the making first")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute("DELETE FROM baskets WHERE id = ?", (doc["id"],))
                cur = self.conn.execute(  # the claim: only one lane resumes it
                    "UPDATE baskets SET state = 'open', updated_at = ? "
                    "WHERE id = ? AND lane = ? AND state = 'suspended'",
                    (_now().isoformat(), basket_id, lane),
                )
                if cur.rowcount != 1:
                    raise BasketError(404, f"no suspended basket {basket_id} on lane {lane}")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return await self.get(lane)

    # --- tenders and checkout --------------------------------------------------------------
    async def pay(self, lane: str, body: dict[str, Any]) -> dict[str, Any]:
        """Cash (`tendered_fen`), card (the lane's terminal) or QR (`auth_code`, normally from
        a scanned payment code); `amount_fen` (default: what is due) makes a split tender."""
        self._check(lane)
        tender = body.get("tender")
        async with self._locks[lane]:
            doc = self._load(lane)
            view = self.view(lane, doc)
            due = view["due_fen"]
            if doc["lines"] and due <= 0 and doc["payments"]:
                # paid, but not marked booked (a crash between the two): book it again — the
                # basket's id is the idempotency key, so this answers the sale already booked
                return await self._checkout(lane, doc, body.get("cashier") or "")
            if not doc["lines"] or due <= 0:
                raise BasketError(409, "nothing is due")
            amount = body.get("amount_fen", due)
            if type(amount) is not int or not 0 < amount <= due:
                raise BasketError(400, f"amount_fen must be a whole number of fen, 1..{due}")
            key = f"{doc['id']}-{len(doc['payments']) + 1}"
            if tender == "cash":
                tendered = body.get("tendered_fen", amount)
                if type(tendered) is not int or tendered <= 0:
                    raise BasketError(400, "tendered_fen must be a positive whole number of fen")
                doc["payments"].append({"tender": "cash", "amount_fen": tendered})
            elif tender in ("card", "wechat", "alipay", "unionpay", "qr"):
                req = {"key": key, "method": tender, "amount_fen": amount}
                if tender != "card":
                    req["auth_code"] = body.get("auth_code")
                try:
                    attempt, _ = await self.payments.pay(lane, req)
                except (ValueError, DeviceError) as err:
                    raise BasketError(409, str(err)) from None
                got = await self.payments.wait(attempt.key, 120.0) or attempt
                if got.state != "approved":
                    raise BasketError(402, f"payment {got.state}: {got.reason or 'not approved'}")
                paid_as = tender if tender != "qr" else body.get("provider") or "wechat"
                doc["payments"].append({"tender": paid_as, "amount_fen": amount, "ref": key})
            else:
                raise BasketError(400, "tender must be cash, card, wechat, alipay or unionpay")
            self._save(doc)
            view = self.view(lane, doc)
            if view["due_fen"] == 0:
                return await self._checkout(lane, doc, body.get("cashier") or "")
        self._publish(lane, view)
        return view

    async def redeem(self, lane: str, points: Any) -> dict[str, Any]:
        """Points as a tender: reserved at the hub online (the sale names the reservation and
        the hub spends it when the sale arrives), or offline within the store's policy."""
        self._check(lane)
        if type(points) is not int or not 0 < points <= 10**9:
            raise BasketError(400, "points must be a positive whole number")
        async with self._locks[lane]:
            doc = self._load(lane)
            m = doc.get("member")
            if not m:
                raise BasketError(409, "identify the member first")
            if any(p["tender"] == "points" for p in doc["payments"]):
                raise BasketError(409, "points are already a tender of this sale")
            value = points * int(m.get("point_value_milli_fen") or 1000) // 1000
            due = self.view(lane, doc)["due_fen"]
            if not 0 < value <= due:
                raise BasketError(400, f"{points} points are worth {value} fen; {due} fen is due")
            if self.members.online():
                rid = new_id()
                try:
                    got = await self.members.hub.call(  # type: ignore[union-attr]
                        "points.reserve",
                        {"reservation_id": rid, "member_id": m["member_id"], "points": points},
                        lane,
                    )
                except HubCallError as err:
                    raise BasketError(err.status, err.reason) from None
                value = int(got.get("value_fen", value))
                doc["points_reservation"] = rid
            else:
                self._offline_points(lane, doc, m["member_id"], points)
            doc["payments"].append({"tender": "points", "amount_fen": value, "points": points})
            self._save(doc)
            view = self.view(lane, doc)
            if view["due_fen"] == 0:
                return await self._checkout(lane, doc, "")
        self._publish(lane, view)
        return view

    def _offline_points(self, lane: str, doc: dict[str, Any], member: str, points: int) -> None:
        pol = self.points_policy
        if pol.offline != "allow":
            raise BasketError(503, "redeeming points needs the hub, which is unreachable "
                                   "(this store's policy)")  # fmt: skip
        day = self.lanes.business_day(_now().isoformat()).isoformat()
        self.conn.execute("BEGIN IMMEDIATE")  # the cap is checked and taken in one go
        try:
            used = self.conn.execute(
                "SELECT COALESCE(SUM(points), 0) FROM points_offline WHERE member_id = ? "
                "AND day = ?",
                (member, day),
            ).fetchone()[0]
            if used + points > pol.offline_cap:
                raise BasketError(409, f"offline the store allows {pol.offline_cap} points per "
                                       f"member a day ({used} used)")  # fmt: skip
            self.conn.execute(
                "INSERT INTO points_offline (basket_id, member_id, day, points) VALUES (?,?,?,?)",
                (doc["id"], member, day, points),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        log.warning("lane %s: %d points redeemed offline for %s (hub reconciles)", lane,
                    points, member)  # fmt: skip

    async def void_payments(self, lane: str) -> dict[str, Any]:
        """Give back every tender taken so far: reverse card / QR payments, release the
        points, forget cash (the drawer hands it back); the basket can change again."""
        self._check(lane)
        async with self._locks[lane]:
            doc = self._load(lane)
            for p in list(doc["payments"]):
                if p.get("ref"):
                    try:
                        await self.payments.reverse(p["ref"], "voided at the lane")
                    except (KeyError, ValueError, DeviceError) as err:
                        self._save(doc)
                        raise BasketError(409, f"{p['tender']} payment: {err}") from None
                elif p["tender"] == "points":
                    await self._release_points(lane, doc)
                doc["payments"].remove(p)
                self._save(doc)
            view = self.view(lane, doc)
        self._publish(lane, view)
        return view

    async def _release_points(self, lane: str, doc: dict[str, Any]) -> None:
        self.conn.execute("DELETE FROM points_offline WHERE basket_id = ?", (doc["id"],))
        rid = doc.pop("points_reservation", None)
        if rid and self.members.hub is not None:
            try:
                await self.members.hub.call("points.release", {"reservation_id": rid}, lane)
            except HubCallError as err:  # the hold times out at the hub by itself
                log.warning("lane %s: points hold %s not released now: %s", lane, rid, err)

    async def _checkout(self, lane: str, doc: dict[str, Any], cashier: str) -> dict[str, Any]:
        at = _now()
        items, got, version = self._price(doc, at)
        # a coupon the basket no longer earns (a line voided under its threshold) is given
        # back, not used up: the sale names only the coupons that took something off
        gave = {s.ref for s in got.savings if s.kind == "coupon"}
        idle = [c for c in doc.get("coupons") or [] if c["code"] not in gave]
        if idle:
            for c in idle:
                doc["coupons"].remove(c)
                if self.claims is not None:
                    await self.claims.release_claim(lane, c["reservation_id"])
            self._save(doc)
            items, got, version = self._price(doc, at)
        member = self._member_terms(doc)
        ov = doc.get("override")
        fields = pricing.sale_fields(
            items,
            got,
            names=[ln["name"] for ln in doc["lines"]],
            at=at,
            promotions_version=version,
            member=member,
            policy=self.policy,
            override=ov is not None,
        )
        fields["pricing"]["savings"] = self._savings(doc, got)  # coupons by name on the receipt
        if ov is not None:  # who let it go below the floor, when, on which lines: journaled
            fields["pricing"].update(
                override_by=ov["by"], override_at=ov["at"], override_lines=ov["lines"]
            )
        m = doc.get("member")
        body = {
            "cashier": cashier or f"lane {lane}",
            "lines": [{k: v for k, v in ln.items() if k != "total_fen"} for ln in fields["lines"]],
            "payments": [{k: v for k, v in p.items() if k != "points"} for p in doc["payments"]],
            "points_reservation": doc.get("points_reservation"),
            "coupons": [c["code"] for c in doc.get("coupons") or []],
            "pricing": fields["pricing"],
            **(
                {
                    "member_id": m["member_id"],
                    "member": {
                        "name": m.get("name"),
                        "tier": m.get("tier"),
                        "points_earned": self.points_estimate(doc, got.total_fen),
                        "points_balance": m.get("points"),
                    },
                }
                if m
                else {}
            ),
        }
        sale = msgspec.convert(body, SaleIn)
        resp = await self.lanes.sell(lane, sale, doc["id"], None)
        answer = json.loads(resp.body)  # type: ignore[arg-type]
        if resp.status >= 400:
            raise BasketError(resp.status, answer.get("error", "sale refused"))
        self.conn.execute(
            "UPDATE baskets SET state = 'done', updated_at = ? WHERE id = ?",
            (at.isoformat(), doc["id"]),
        )
        log.info("lane %s: basket %s booked as %s", lane, doc["id"], answer.get("receipt_no"))
        if rid := doc.get("points_reservation"):  # the hub spends it with the sale anyway
            self._spawn(
                lane,
                self.members.hub.call(  # type: ignore[union-attr]
                    "points.commit", {"reservation_id": rid, "sale_id": answer["sale_id"]}, lane
                ),
            )
        view = {**self.view(lane, self._load(lane)), "sale": answer}
        self._publish(lane, view)
        return view

    # --- the lane bus: scans and payment codes ---------------------------------------------
    def _on_lane_event(self, lane: str, event: LaneEvent) -> None:
        kind = event.get("type")
        if kind not in ("scan", "paycode") or not self.lanes.declared.known(lane):
            return
        if kind == "scan":
            code = str(event.get("code") or event.get("text") or event.get("gtin") or "")
            coro = self.scan(lane, code)
        else:
            coro = self.pay(
                lane,
                {"tender": "qr", "auth_code": event["code"], "provider": event.get("provider")},
            )
        self._spawn(lane, coro)

    def _spawn(self, lane: str, coro: Any) -> None:
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
