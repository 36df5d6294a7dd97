"""The hub's side of the lanes' online calls (protocols/rpc.py): member look-up and
registration, coupon check, coupon reserve / commit / release (hub/coupons/holds.py), points
reserve / commit / release. Each request is answered on its gateway's reply topic with the
request's correlation id; the work runs in a worker thread, one transaction per request.
Requests past their deadline are dropped (the lane gave up)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import msgspec

from hub.coupons import holds
from hub.coupons import service as coupons
from hub.db import Database, utcnow
from hub.loyalty.models import PointsAccount
from hub.loyalty.service import Ledger, PointsError, resolve, settings
from hub.members.service import MemberError, MemberNotFound, Members, Registration
from hub.sales import refunds
from hub.stock import rpc as stock_rpc
from hub.stock.ledger import StockError
from hub.tiers import service as tiers
from protocols import rpc
from protocols.topics import TopicError

log = logging.getLogger(__name__)


class RpcServer:
    def __init__(self, db: Database, members: Members) -> None:
        self.db = db
        self.members = members
        self.worker: Any = None
        self.served = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, worker: Any) -> None:
        """Listen on the ingest worker's connection (call before the worker starts)."""
        self.worker = worker
        worker.subscribe(rpc.REQUESTS_ALL, self.on_message)

    def on_message(self, topic: str, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(topic, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, topic: str, payload: bytes) -> None:
        try:
            store, gateway = rpc.caller(topic)
        except TopicError as err:
            log.warning("RPC on a bad topic ignored: %s", err)
            return
        reply = await asyncio.to_thread(self.handle, store, gateway, payload)
        if reply is not None:
            self.worker.publish(rpc.reply_topic(store, gateway), reply, 1, False)

    def handle(self, store: str, gateway: str, payload: bytes) -> bytes | None:
        """One request → its reply bytes (None when there is no one to answer)."""
        try:
            req = rpc.parse_request(payload)
        except rpc.Invalid as err:
            corr = _corr(payload)
            log.warning("bad RPC request from %s/%s: %s", store, gateway, err)
            if corr is None:
                return None
            return _reply(corr, False, error=f"bad request: {err}", status=400)
        if req.deadline is not None and req.deadline < utcnow():
            log.info("RPC %s %s from %s/%s arrived too late", req.method, req.id, store, gateway)
            return None
        try:
            params = rpc.check_params(req.method, req.params)
        except rpc.Invalid as err:
            return _reply(req.id, False, error=f"{err.loc or 'params'}: {err.msg}", status=422)
        try:
            result = self.call(req.method, params, store, gateway, req.lane)
        except (
            PointsError,
            MemberError,
            coupons.CouponError,
            refunds.RefundError,
            StockError,
        ) as err:
            return _reply(req.id, False, error=str(err), status=err.status)
        except Exception:
            log.exception("RPC %s from %s/%s failed", req.method, store, gateway)
            return _reply(req.id, False, error="hub error", status=500)
        self.served += 1
        return _reply(req.id, True, result=result)

    def call(self, method: str, p: Any, store: str, gateway: str, lane: str | None) -> dict:
        if method == "ping":  # a gateway's network check: answered without the database
            return {"pong": True}
        with self.db.transaction() as s:
            if method in stock_rpc.METHODS:  # the store's stock and pickups (hub/stock/rpc.py)
                return stock_rpc.call(s, method, p, store, gateway, lane)
            if method == "member.lookup":
                if p.member_id:
                    m = self.members.get(s, p.member_id)
                else:
                    m = self.members.find(s, phone=p.phone, card_no=p.card_no)
                if m is None:
                    raise MemberNotFound("no such member")
                return self._summary(s, m)
            if method == "member.register":
                reg = Registration(
                    name=p.name,
                    phone=p.phone,
                    birthday=p.birthday,
                    marketing_consent=p.marketing_consent,
                    channel="lane",
                    origin_store=store,
                )
                got = self.members.register(s, reg)
                return {**self._summary(s, got.member), "created": got.created}
            if method == "coupon.check":
                owner = resolve(s, [p.member_id]).get(p.member_id) if p.member_id else None
                return coupons.check(
                    s,
                    p.code,
                    member_id=owner,
                    lines=p.lines,
                    store=store,
                    other_codes=p.other_codes,
                )
            if method == "refund.claim":
                lines = [msgspec.to_builtins(x) for x in p.lines]
                where = {"store": store, "gateway": gateway, "lane": lane, "ttl_s": p.ttl_s}
                return refunds.claim(s, p.claim_id, p.sale_id, lines, **where)
            if method == "refund.release":
                return refunds.release(s, p.claim_id)
            if method.startswith("coupon."):
                return self._coupon(s, method, p, holds.Caller(store, gateway, lane))
            led = Ledger(s)
            if method == "points.reserve":
                owner = resolve(s, [p.member_id]).get(p.member_id)
                if owner is None:
                    raise MemberNotFound(f"no member {p.member_id}")
                r = led.reserve(
                    p.reservation_id,
                    owner,
                    p.points,
                    store_id=store,
                    gateway_id=gateway,
                    lane=lane,
                    ttl_s=p.ttl_s,
                )
            elif method == "points.commit":
                r = led.commit(p.reservation_id, sale_id=p.sale_id, store_id=store)
            else:
                r = led.release(p.reservation_id)
            return {
                "reservation_id": r.id,
                "member_id": r.member_id,
                "points": r.points,
                "value_fen": r.value_fen,
                "status": r.status,
                "expires_at": r.expires_at.isoformat(),
                "available": led.available(r.member_id),
            }

    def _coupon(self, s: Any, method: str, p: Any, caller: holds.Caller) -> dict[str, Any]:
        if method == "coupon.reserve":
            owner = resolve(s, [p.member_id]).get(p.member_id) if p.member_id else None
            if p.member_id and owner is None:
                raise MemberNotFound(f"no member {p.member_id}")
            hold = holds.reserve(
                s,
                p.reservation_id,
                p.code,
                caller=caller,
                member_id=owner,
                lines=p.lines,
                other_codes=p.other_codes,
                ttl_s=p.ttl_s or settings(s).reservation_ttl_s,
            )
        elif method == "coupon.commit":
            if not p.sale_id:
                err = coupons.CouponError("coupon.commit needs the sale_id")
                err.status = 422
                raise err
            hold = holds.commit(s, p.reservation_id, p.sale_id, caller)
        else:
            hold = holds.release(s, p.reservation_id, caller)
        return holds.describe(hold)

    def _summary(self, s: Any, m: Any) -> dict[str, Any]:
        """What a lane needs about a member at the till — masked, never the full phone."""
        tier = tiers.current(s, [m.id]).get(m.id)
        acct = s.get(PointsAccount, m.id)
        balance, held = (acct.balance, acct.held) if acct else (0, 0)
        view = self.members.view(m)
        return {
            "member_id": m.id,
            "name": m.name,
            "phone": view["phone"],
            "card_no": m.card_no,
            "card_valid": view["card"]["valid"],
            "tier": tier.code if tier else None,
            "tier_name": tier.name if tier else None,
            "discount_pct": tier.discount_pct if tier else 100,
            "points": balance,
            "points_available": balance - held,
            "point_value_milli_fen": settings(s).point_value_milli_fen,
        }


def _corr(payload: bytes) -> str | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    corr = doc.get("id") if isinstance(doc, dict) else None
    return corr if isinstance(corr, str) and 0 < len(corr) <= 64 else None


def _reply(
    corr: str,
    ok: bool,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> bytes:
    r = rpc.Reply(id=corr, ok=ok, result=result, error=error, status=status)
    return rpc.encode(r)
