"""Coupons at the lane are claimed before they are granted.

POST /api/lanes/{lane}/coupons/reserve       {code, member_id?, lines, other_codes, reservation_id?}
POST /api/lanes/{lane}/coupons/{rid}/release the cashier took the coupon off the sale

Reserve asks the hub to hold the coupon for this lane (protocols/rpc.py `coupon.reserve`; the
hub's row lock makes exactly one of any number of lanes the holder) and keeps the claim in the
gateway's SQLite. A sale naming a coupon is refused (409) unless this lane holds an open claim
on it; journaling the sale uses the claim in the same transaction and writes the hold id into
the sale (`coupon_holds`), so the hub commits exactly that hold when it books the sale, and
the commit call sent right after is only a shortcut. A claim the hub refused is never stored.

When the hub cannot be reached the store's policy decides (`<data dir>/store-policy.toml`,
`[coupons] offline = "refuse" | "allow"`, refuse by default): allowed, the claim is kept as
an offline use, the sale lists the coupon in `coupons_offline`, and the hub reconciles (the
first booked wins, a later use is a listed `coupon_offline_conflict` issue)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from edge.devices.base import Context
from edge.journal import Refused
from edge.rpc import HubCallError, HubCalls
from protocols import coupons as rules
from protocols import rpc
from protocols.strict import Invalid, convert, to_json
from transport.ids import new_id

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS coupon_claims (
    id TEXT PRIMARY KEY,                -- the hub hold's id, chosen here
    code TEXT NOT NULL,                 -- canonical
    lane TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('held', 'offline', 'used', 'released', 'lapsed')),
    discount_fen INTEGER,               -- as the hub computed it; NULL offline
    expires_at REAL NOT NULL,           -- unix time, on this gateway's clock
    sale_id TEXT,
    created_at REAL NOT NULL,
    CHECK ((status = 'used') = (sale_id IS NOT NULL))
);
-- one open claim per coupon in this store's gateway
CREATE UNIQUE INDEX IF NOT EXISTS coupon_claims_one_open
    ON coupon_claims(code) WHERE status IN ('held', 'offline');
"""
OPEN = ("held", "offline")
MARGIN_S = 2.0  # the hub's timeout, less the time its answer may have taken to get here


# a coupon's refusal, as the hub, the claims or the pricing engine word it → the cashier
# page's words for it (edge/pages/i18n.py)
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
    """The page's name for a coupon's refusal ("other" where it has no words of its own)."""
    low = reason.lower()
    return next((why for text, why in _COUPON_WHY if text in low), "other")


class ClaimRefused(Refused):
    """A sale names a coupon this lane has not claimed: 409, nothing journaled."""


@dataclass
class Policy:
    offline: str = "refuse"  # refuse | allow
    offline_hold_s: int = 300  # how long an offline claim may wait for its sale

    @classmethod
    def load(cls, data_dir: Path) -> Policy:
        path = data_dir / "store-policy.toml"
        if not path.exists():
            return cls()
        try:
            doc = tomllib.loads(path.read_text()).get("coupons", {})
            p = cls(str(doc.get("offline", "refuse")), int(doc.get("offline_hold_s", 300)))
        except (OSError, ValueError, TypeError) as err:
            log.error("%s unusable (%s): coupons are refused while the hub is away", path, err)
            return cls()
        if p.offline not in ("refuse", "allow"):
            log.error("%s: coupons.offline %r is not refuse|allow: refusing", path, p.offline)
            return cls()
        return p


class CouponClaims:
    def __init__(self, conn: sqlite3.Connection, calls: HubCalls, data_dir: Path, ctx: Context):
        self.conn = conn  # the journal's connection: a claim is used in the sale's transaction
        conn.executescript(SCHEMA)
        self.calls = calls
        self.policy = Policy.load(data_dir)
        self._tasks: set[asyncio.Task[None]] = set()
        ctx.sale_hooks.append(self._after_sale)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/lanes/{lane}/coupons/reserve", self.reserve),
            web.post("/api/lanes/{lane}/coupons/{rid}/release", self.release),
        ]

    def _claim(self, rid: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT code, lane, status, sale_id FROM coupon_claims WHERE id=?", (rid,)
        ).fetchone()
        keys = ("code", "lane", "status", "sale_id")
        return None if row is None else dict(zip(keys, row, strict=True))

    # --- reserve -----------------------------------------------------------------------------
    async def reserve(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        status, doc = await self.claim(lane, await HubCalls._json(request))
        return web.json_response(doc, status=status)

    async def claim(self, lane: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Claim a coupon for `lane` (the reserve route, and the lane's basket): the status
        and the answer (`error` when refused). 201 held at the hub; 202 granted offline."""
        body.setdefault("reservation_id", new_id())  # retry with this id: the same hold
        try:
            p = convert(body, rpc.CouponReserve)
            code = rules.normalize(p.code)  # a mistyped code needs no round trip
        except Invalid as err:
            reason = f"{err.loc or 'body'}: {err.msg}"
            log.warning("lane %s: coupon reserve refused: %s", lane, reason)
            return 400, {"error": reason}
        except rules.CodeError as err:
            log.warning("lane %s: coupon reserve refused: %s", lane, err)
            return 400, {"error": f"code: {err}"}
        rid = p.reservation_id
        mine = self._claim(rid)
        if mine is not None and (mine["code"] != code or mine["lane"] != lane):
            return 409, {"error": f"reservation id {rid} belongs to another claim"}
        if mine is not None and mine["status"] == "used":
            return 409, {"error": f"coupon already used by sale {mine['sale_id']}"}
        now = time.time()
        other = self.conn.execute(
            "SELECT lane FROM coupon_claims WHERE code=? AND id<>? AND status IN ('held', "
            "'offline') AND expires_at > ?",
            (code, rid, now),
        ).fetchone()
        if other is not None:
            return 409, {"error": f"coupon {rules.pretty(code)} is claimed at lane {other[0]}"}
        params = {k: v for k, v in to_json(p).items() if v is not None} | {"code": code}
        try:
            got = await self.calls.call("coupon.reserve", params, lane)
        except HubCallError as err:
            if err.status in (503, 504):
                return self._offline(lane, rid, code, err.reason)
            self._close(rid, "lapsed")  # whatever this id held is gone
            log.info("lane %s: coupon %s refused by the hub: %s", lane, code, err.reason)
            return err.status, {"error": err.reason}
        if got.get("status") != "held":
            self._close(rid, "lapsed")
            return 409, {"error": f"coupon hold {rid} is {got.get('status')}", "hold": got}
        expires = time.time() + float(got.get("ttl_s", 0)) - MARGIN_S
        try:
            self._open(rid, code, lane, "held", got.get("discount_fen"), expires)
        except sqlite3.IntegrityError:  # another lane here claimed it while we asked
            return 409, {"error": f"coupon {rules.pretty(code)} is claimed at another lane"}
        return 201, {**got, "offline": False}

    def _open(
        self, rid: str, code: str, lane: str, status: str, discount: int | None, expires: float
    ) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:  # claims of this coupon that timed out here make way
            c.execute(
                "UPDATE coupon_claims SET status='lapsed' WHERE code=? AND id<>? "
                "AND status IN ('held', 'offline') AND expires_at <= ?",
                (code, rid, time.time()),
            )
            c.execute(
                "INSERT INTO coupon_claims(id, code, lane, status, discount_fen, expires_at, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "status=excluded.status, discount_fen=excluded.discount_fen, "
                "expires_at=excluded.expires_at",
                (rid, code, lane, status, discount, expires, time.time()),
            )
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise

    def _close(self, rid: str, status: str) -> None:
        self.conn.execute(
            "UPDATE coupon_claims SET status=? WHERE id=? AND status IN ('held', 'offline')",
            (status, rid),
        )

    def _offline(self, lane: str, rid: str, code: str, why: str) -> tuple[int, dict[str, Any]]:
        if self.policy.offline != "allow":
            log.warning("lane %s: coupon %s refused offline (store policy): %s", lane, code, why)
            reason = f"{why}; this store's policy refuses coupons while the hub is away"
            return 503, {"error": reason, "offline": True}
        used = self.conn.execute(
            "SELECT sale_id FROM coupon_claims WHERE code=? AND status='used' AND id<>?",
            (code, rid),
        ).fetchone()
        if used is not None:  # what this store knows for sure, it never grants twice
            return 409, {"error": f"coupon {rules.pretty(code)} was used here by sale {used[0]}"}
        try:
            self._open(rid, code, lane, "offline", None, time.time() + self.policy.offline_hold_s)
        except sqlite3.IntegrityError:
            return 409, {"error": f"coupon {rules.pretty(code)} is claimed at another lane"}
        log.warning("lane %s: coupon %s granted offline (%s); the hub reconciles", lane, code, why)
        return 202, {
            "reservation_id": rid,
            "code": code,
            "display": rules.pretty(code),
            "status": "offline",
            "offline": True,
            "discount_fen": None,  # the hub's terms are not at hand: the coupon's face value
        }

    # --- release -----------------------------------------------------------------------------
    async def release(self, request: web.Request) -> web.Response:
        lane, rid = request.match_info["lane"], request.match_info["rid"]
        status, doc = await self.release_claim(lane, rid)
        return web.json_response(doc, status=status)

    async def release_claim(self, lane: str, rid: str) -> tuple[int, dict[str, Any]]:
        mine = self._claim(rid)
        if mine is None or mine["lane"] != lane:
            return 404, {"error": f"no coupon claim {rid} at lane {lane}"}
        if mine["status"] == "used":
            return 409, {"error": f"coupon already used by sale {mine['sale_id']}"}
        self._close(rid, "released")  # first: no sale can use it from now on
        hub = "released"
        try:
            await self.calls.call("coupon.release", {"reservation_id": rid}, lane)
        except HubCallError as err:
            # unreachable: the hub's timeout frees it; unknown there: it never held it
            hub = f"not confirmed ({err.reason})"
            log.info("lane %s: coupon claim %s released here, hub: %s", lane, rid, err.reason)
        return 200, {"reservation_id": rid, "status": "released", "hub": hub}

    # --- the sale ----------------------------------------------------------------------------
    def take(
        self, lane: str, codes: list[str], sale_id: str, discounts: Sequence[Any] = ()
    ) -> dict[str, Any]:
        """Inside the sale's journal transaction: use this lane's open claim on each coupon,
        or ClaimRefused. A discount naming a coupon needs that coupon's claim and stays within
        what the hub computed for it. Returns the sale body's coupon fields."""
        out: dict[str, Any] = {"coupons": [], "coupon_holds": {}, "coupons_offline": []}
        worth: dict[str, int | None] = {}
        now = time.time()
        for text in codes:
            try:
                code = rules.normalize(text)
            except rules.CodeError as err:
                raise ClaimRefused(f"coupon {text!r}: {err}") from None
            row = self.conn.execute(
                "SELECT id, status, expires_at, discount_fen FROM coupon_claims WHERE code=? "
                "AND lane=? AND status IN ('held', 'offline')",
                (code, lane),
            ).fetchone()
            if row is None:
                raise ClaimRefused(
                    f"coupon {rules.pretty(code)} is not reserved at lane {lane}: reserve it "
                    "before granting it"
                )
            rid, status, expires, worth[code] = row
            if expires <= now:
                raise ClaimRefused(
                    f"the claim on coupon {rules.pretty(code)} timed out: reserve it again"
                )
            self.conn.execute(
                "UPDATE coupon_claims SET status='used', sale_id=? WHERE id=?", (sale_id, rid)
            )
            out["coupons"].append(code)
            out["coupon_holds"][code] = rid
            if status == "offline":
                out["coupons_offline"].append(code)
        given: dict[str, int] = {}
        for d in discounts:
            try:
                code = rules.normalize(d.code)
            except rules.CodeError:
                continue  # a promotion's code, not a coupon
            if code not in worth:
                raise ClaimRefused(f"discount {d.code!r} is a coupon the sale does not claim")
            given[code] = given.get(code, 0) + d.amount_fen
        for code, fen in given.items():
            limit = worth[code]
            if limit is not None and fen > limit:
                raise ClaimRefused(
                    f"coupon {rules.pretty(code)} is worth {limit} fen on this basket, "
                    f"{fen} fen given: reserve it again with the basket as it is"
                )
        return out

    async def _after_sale(self, env: dict[str, Any]) -> None:
        """Tell the hub at once (ingest commits the holds anyway when the sale arrives)."""
        body = env.get("body", {})
        offline = set(body.get("coupons_offline") or [])
        for code, rid in (body.get("coupon_holds") or {}).items():
            if code in offline:
                continue  # the hub never confirmed it: ingest reconciles
            task = asyncio.create_task(self._commit(rid, env["id"], body.get("lane")))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit(self, rid: str, sale_id: str, lane: str | None) -> None:
        try:
            params = {"reservation_id": rid, "sale_id": sale_id}
            await self.calls.call("coupon.commit", params, lane)
        except HubCallError as err:
            log.info("coupon hold %s: commit for sale %s left to ingest: %s", rid, sale_id, err)
