"""Coupons on a lane's basket: a code scanned or typed is claimed for the lane first
(edge/coupons.py: the hub holds it for this lane alone, or refuses and says why), then priced
by the engine with the hub's terms for it; a coupon the engine does not apply is given back,
and one taken off the basket is released at the hub."""

from __future__ import annotations

import logging
from typing import Any

from edge.basket import BasketError, Baskets, now
from edge.coupons import coupon_why
from protocols import bounds, coupons

log = logging.getLogger(__name__)


class BasketCoupons:
    def __init__(self, baskets: Baskets) -> None:
        self.baskets = baskets
        self.claims = baskets.lanes.coupons  # claimed before granted; None: none taken here

    def is_coupon(self, code: str) -> bool:
        """A code no item has that reads as a coupon's (its check character holds)."""
        try:
            coupons.normalize(code)
        except coupons.CodeError:
            return False
        return self.baskets.catalog.find(code.strip()) is None

    @staticmethod
    def _code(text: str) -> str:
        try:
            return coupons.normalize(text)
        except coupons.CodeError as err:
            raise BasketError(400, f"code: {err}", "bad_code") from None

    async def add(self, lane: str, text: Any) -> dict[str, Any]:
        """Claim the coupon for this lane and put it on the basket, priced with the hub's
        terms; refused (and given back) where it takes nothing off."""
        self.baskets.check(lane)
        claims = self.claims
        if claims is None:
            raise BasketError(503, "coupons are not taken at this gateway")
        if not isinstance(text, str) or not 0 < len(text) <= bounds.COUPON_LEN:
            raise BasketError(400, f"code: the coupon's code, 1-{bounds.COUPON_LEN} characters",
                              "bad_code")  # fmt: skip
        code = self._code(text)

        async def op(doc: dict[str, Any]) -> None:
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
            _, before, _ = self.baskets.price({**doc, "coupons": []}, now())
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
            status, got = await claims.claim(lane, ask)
            if status >= 400:
                reason = got.get("error", "refused")
                log.info("lane %s: coupon %s refused: %s", lane, code, reason)
                raise BasketError(status, reason, coupon_why(reason))
            rid = got["reservation_id"]
            if not got.get("terms"):  # granted offline by the store's policy: no terms here
                await claims.release_claim(lane, rid)
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
            _, priced, _ = self.baskets.price(doc, now())
            why = dict(priced.coupons_refused).get(code)
            if why is not None or not any(
                s.kind == "coupon" and s.ref == code for s in priced.savings
            ):
                await claims.release_claim(lane, rid)
                reason = f"coupon {coupons.pretty(code)}: {why or 'nothing left to take off'}"
                log.info("lane %s: %s", lane, reason)
                raise BasketError(409, reason, coupon_why(reason))
            log.info("lane %s: coupon %s on basket %s (hold %s)", lane, code, doc["id"], rid)

        return await self.baskets.change(lane, op)

    async def remove(self, lane: str, text: str) -> dict[str, Any]:
        """Take a coupon off the basket and give its claim back (the hub frees it)."""
        self.baskets.check(lane)
        code = self._code(text)

        async def op(doc: dict[str, Any]) -> None:
            entry = next((c for c in doc.get("coupons") or [] if c["code"] == code), None)
            if entry is None:
                raise BasketError(404, f"coupon {coupons.pretty(code)} is not on this basket")
            if self.claims is not None:
                await self.claims.release_claim(lane, entry["reservation_id"])
            doc["coupons"].remove(entry)

        return await self.baskets.change(lane, op)
