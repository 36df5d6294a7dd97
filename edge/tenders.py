"""Tenders at a lane's basket and its checkout: cash, the card terminal, QR (a payment code
scanned while the basket is due pays what is due), points, any split of them. Paid in full,
the basket is booked through the lane's sale path (`Lanes.sell`), with its id as the
idempotency key, so a retry never books it twice."""

from __future__ import annotations

import json
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from edge.basket import BasketError, Baskets, now
from edge.devices.base import DeviceError
from edge.lane import SaleIn
from edge.rpc import HubCallError
from protocols import pricing
from transport.ids import new_id

log = logging.getLogger(__name__)

# points redeemed while the hub was away, per member and business day (the store's cap)
SCHEMA = """CREATE TABLE IF NOT EXISTS points_offline (
    basket_id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    day TEXT NOT NULL,
    points INTEGER NOT NULL CHECK (points > 0)
)"""


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


class Tenders:
    def __init__(self, baskets: Baskets, payments: Any) -> None:
        self.baskets = baskets
        self.payments = payments
        self.conn, self.lanes = baskets.conn, baskets.lanes
        self.members, self.claims = baskets.members, baskets.lanes.coupons
        self.conn.execute(SCHEMA)
        self.points_policy = PointsPolicy.load(self.lanes.ctx.data_dir)

    async def pay(self, lane: str, body: dict[str, Any]) -> dict[str, Any]:
        """Cash (`tendered_fen`), card (the lane's terminal) or QR (`auth_code`, normally from
        a scanned payment code); `amount_fen` (default: what is due) makes a split tender."""
        self.baskets.check(lane)
        tender = body.get("tender")
        async with self.baskets.locks[lane]:
            doc = self.baskets.load(lane)
            view = self.baskets.view(lane, doc)
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
            self.baskets.save(doc)
            view = self.baskets.view(lane, doc)
            if view["due_fen"] == 0:
                return await self._checkout(lane, doc, body.get("cashier") or "")
        self.baskets.publish(lane, view)
        return view

    async def redeem(self, lane: str, points: Any) -> dict[str, Any]:
        """Points as a tender: reserved at the hub online (the sale names the reservation and
        the hub spends it when the sale arrives), or offline within the store's policy."""
        self.baskets.check(lane)
        if type(points) is not int or not 0 < points <= 10**9:
            raise BasketError(400, "points must be a positive whole number")
        async with self.baskets.locks[lane]:
            doc = self.baskets.load(lane)
            m = doc.get("member")
            if not m:
                raise BasketError(409, "identify the member first")
            if any(p["tender"] == "points" for p in doc["payments"]):
                raise BasketError(409, "points are already a tender of this sale")
            value = points * int(m.get("point_value_milli_fen") or 1000) // 1000
            due = self.baskets.view(lane, doc)["due_fen"]
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
            self.baskets.save(doc)
            view = self.baskets.view(lane, doc)
            if view["due_fen"] == 0:
                return await self._checkout(lane, doc, "")
        self.baskets.publish(lane, view)
        return view

    def _offline_points(self, lane: str, doc: dict[str, Any], member: str, points: int) -> None:
        pol = self.points_policy
        if pol.offline != "allow":
            raise BasketError(503, "redeeming points needs the hub, which is unreachable "
                                   "(this store's policy)")  # fmt: skip
        day = self.lanes.business_day(now().isoformat()).isoformat()
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
        self.baskets.check(lane)
        async with self.baskets.locks[lane]:
            doc = self.baskets.load(lane)
            for p in list(doc["payments"]):
                if p.get("ref"):
                    try:
                        await self.payments.reverse(p["ref"], "voided at the lane")
                    except (KeyError, ValueError, DeviceError) as err:
                        self.baskets.save(doc)
                        raise BasketError(409, f"{p['tender']} payment: {err}") from None
                elif p["tender"] == "points":
                    await self._release_points(lane, doc)
                doc["payments"].remove(p)
                self.baskets.save(doc)
            view = self.baskets.view(lane, doc)
        self.baskets.publish(lane, view)
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
        at = now()
        items, got, version = self.baskets.price(doc, at)
        # a coupon the basket no longer earns (a line voided under its threshold) is given
        # back, not used up: the sale names only the coupons that took something off
        gave = {s.ref for s in got.savings if s.kind == "coupon"}
        idle = [c for c in doc.get("coupons") or [] if c["code"] not in gave]
        if idle:
            for c in idle:
                doc["coupons"].remove(c)
                if self.claims is not None:
                    await self.claims.release_claim(lane, c["reservation_id"])
            self.baskets.save(doc)
            items, got, version = self.baskets.price(doc, at)
        member = self.baskets.member_terms(doc)
        ov = doc.get("override")
        fields = pricing.sale_fields(
            items,
            got,
            names=[ln["name"] for ln in doc["lines"]],
            at=at,
            promotions_version=version,
            member=member,
            policy=self.baskets.policy,
            override=ov is not None,
        )
        # coupons by name on the receipt
        fields["pricing"]["savings"] = self.baskets.savings(doc, got)
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
                        "points_earned": self.baskets.points_estimate(doc, got.total_fen),
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
        self.baskets.booked(doc, at)
        log.info("lane %s: basket %s booked as %s", lane, doc["id"], answer.get("receipt_no"))
        if rid := doc.get("points_reservation"):  # the hub spends it with the sale anyway
            self.baskets.spawn(
                lane,
                self.members.hub.call(  # type: ignore[union-attr]
                    "points.commit", {"reservation_id": rid, "sale_id": answer["sale_id"]}, lane
                ),
            )
        view = {**self.baskets.view(lane, self.baskets.load(lane)), "sale": answer}
        self.baskets.publish(lane, view)
        return view
