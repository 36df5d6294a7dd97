"""The lane API: what a checkout lane (cashier page, POS app, script) calls to commit a sale,
a refund or a shift close. Each answers only once the event is durable in the journal.

A lane may send an `Idempotency-Key` header (or `client_ref`): a retried POST after a timeout
then returns the sale already booked instead of booking it twice."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web

from edge import http_errors
from edge.coupons import CouponClaims
from edge.declared_lanes import DeclaredLanes, UnknownLane
from edge.devices.base import Context
from edge.journal import Journal, JournalFull, KeyReused, Refused, TxnHook
from edge.returns import Returns
from edge.uplink import Uplink
from protocols import bounds, coupons, events, pricing

log = logging.getLogger(__name__)

# the canonical request's hash, kept with its Idempotency-Key (see Lanes._body)
REQUEST_HASH = web.RequestKey("request_hash", str)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, as HTTP headers carry


class _In(msgspec.Struct, forbid_unknown_fields=True):
    pass


class LineIn(_In):
    sku: events.Text
    name: events.Text
    qty_milli: events.QtyMilli
    unit_price_fen: events.Fen
    discount_fen: events.Fen = 0
    weighed: bool = False
    category: events.Text | None = None
    cost_fen: events.Fen | None = None  # per unit: what the engine's margin floor used


# a hub member id (UUIDv7) or a card-system id as lanes send them; never free text
MemberId = Annotated[
    str, msgspec.Meta(pattern=rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{bounds.UUID_LEN - 1}}}$")
]


class SaleIn(_In):
    cashier: events.Text
    lines: Annotated[list[LineIn], msgspec.Meta(max_length=bounds.MAX_LINES)]
    payments: list[events.Payment]
    discounts: list[events.Discount] = []
    member_id: MemberId | None = None
    member: events.MemberSummary | None = None
    coupons: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=20)
    ] = []
    points_reservation: str | None = None  # from POST /api/lanes/{lane}/points/reserve
    pricing: events.PricedWith | None = None  # how the engine priced it (edge/tenders.py)
    client_ref: str | None = None

    def __post_init__(self) -> None:
        # a code the check character rejects is a typo or garbage: refuse it now, at the lane
        try:
            self.coupons = [coupons.normalize(c) for c in self.coupons]
        except coupons.CodeError as err:
            raise ValueError(f"coupons: {err}") from None


class RefundIn(_In):
    cashier: events.Text
    sale_id: str
    lines: list[events.RefundLine]
    payments: list[events.Payment]
    reason: str = ""
    client_ref: str | None = None


class ShiftIn(_In):
    cashier: events.Text
    shift_id: str
    opened_at: datetime
    closed_at: datetime
    tenders: list[events.TenderCount] = []
    client_ref: str | None = None


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _plain(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


class Lanes:
    def __init__(
        self,
        journal: Journal,
        uplink: Uplink | None,
        ctx: Context,
        tz: str,
        lanes: Iterable[str] = (),
    ) -> None:
        self.journal = journal
        self.declared = DeclaredLanes(journal.conn, lanes)  # sales only for declared lanes
        self.uplink = uplink
        self.ctx = ctx
        self.tz = ZoneInfo(tz)
        self.returns = Returns(journal)  # the gateway gives it the hub calls
        self.coupons: CouponClaims | None = None  # set by the gateway: coupons claimed first

    def business_day(self, occurred_at: str) -> date:
        return datetime.fromisoformat(occurred_at).astimezone(self.tz).date()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/lanes/{lane}/sales", self.post_sale),
            web.post("/api/lanes/{lane}/refunds", self.post_refund),
            web.post("/api/lanes/{lane}/shifts/close", self.post_shift_close),
            web.get("/api/journal", self.get_journal),
            web.get("/api/sales/by-receipt/{receipt_no}", self.returns.by_receipt),
            *self.declared.routes(),
        ]

    async def _body(self, request: web.Request, model: type[_In]) -> Any:
        body = await http_errors.read_json(request, model)
        # what the request asks for, whatever its spacing or key order: a retry under the same
        # Idempotency-Key must ask for the same thing on the same route (see _commit)
        canon = f"{request.path}\n".encode() + msgspec.json.encode(body)
        request[REQUEST_HASH] = hashlib.sha256(canon).hexdigest()
        return body

    def _commit(
        self,
        request: web.Request,
        type_: str,
        client_ref: str | None,
        build: Any,
    ) -> tuple[web.Response, dict[str, Any] | None]:
        """Journal the event; the answer for the lane, and the envelope when newly booked."""
        ref = request.headers.get("Idempotency-Key") or client_ref
        lane = request.match_info["lane"]
        return self.commit(lane, type_, ref, request.get(REQUEST_HASH), build)

    def commit(
        self,
        lane: str,
        type_: str,
        ref: str | None,
        request_hash: str | None,
        build: Any,
        hooks: Iterable[TxnHook] = (),
    ) -> tuple[web.Response, dict[str, Any] | None]:
        """`_commit` for callers inside the gateway (the basket's checkout, the Z report);
        `hooks` run in the event's transaction after the devices' own."""
        try:
            self.declared.check(lane)
        except UnknownLane as err:
            return _error(404, str(err)), None
        if ref is not None and not IDEMPOTENCY_KEY.match(ref):
            return _error(
                400, f"Idempotency-Key/client_ref must match {IDEMPOTENCY_KEY.pattern}"
            ), None

        def make_body(env: dict[str, Any]) -> dict[str, Any]:
            # the same check the hub makes: a sale that doesn't add up is refused here, now
            return events.check_body(type_, 1, build(env, lane))

        own = {"sale.completed": self.ctx.sale_txn_hooks, "sale.refunded": self.ctx.print_txn_hooks}
        try:
            rec = self.journal.record(
                type_,
                make_body,
                client_ref=ref,
                hooks=[*own.get(type_, ()), *hooks],
                request_hash=request_hash,
            )
        except KeyReused as err:
            log.warning("lane %s: %s refused: %s", lane, type_, err)
            return _error(422, str(err)), None
        except Refused as err:  # a claim failed: a payment, a coupon (ClaimRefused), …
            log.warning("lane %s: %s refused: %s", lane, type_, err)
            return _error(409, str(err)), None
        except ValueError as err:  # events.BodyError, pricing, a refund beyond its sale (409)
            log.warning("lane %s: %s refused: %s", lane, type_, err)
            return _error(getattr(err, "status", 400), str(err)), None
        except JournalFull as err:
            log.error("lane %s: %s refused: %s", lane, type_, err)
            return _error(507, str(err)), None
        env = rec.envelope
        if self.uplink and not rec.duplicate:
            self.uplink.nudge()
        result = {
            "id": env["id"],
            "seq": env["seq"],
            "duplicate": rec.duplicate,
            **{
                k: env["body"][k]
                for k in (
                    "sale_id",
                    "refund_id",
                    "receipt_no",
                    "total_fen",
                    "change_fen",
                    "shift_id",
                )
                if k in env["body"]
            },
        }
        status = 200 if rec.duplicate else 201
        return web.json_response(result, status=status), None if rec.duplicate else env

    async def _after_sale(self, env: dict[str, Any]) -> None:
        for hook in self.ctx.sale_hooks:
            try:
                await hook(env)
            except Exception:  # the sale is booked; a printer hiccup must not fail the lane
                log.exception("after-sale hook failed for %s", env["id"])

    async def post_sale(self, request: web.Request) -> web.Response:
        sale: SaleIn = await self._body(request, SaleIn)
        ref = request.headers.get("Idempotency-Key") or sale.client_ref
        lane = request.match_info["lane"]
        return await self.sell(lane, sale, ref, request.get(REQUEST_HASH))

    async def sell(
        self, lane: str, sale: SaleIn, ref: str | None, request_hash: str | None
    ) -> web.Response:
        """Book a sale on a lane: the lane API's path, and the basket's checkout."""

        def build(env: dict[str, Any], lane: str) -> dict[str, Any]:
            claimed = (  # the lane's claims on the coupons, used in this transaction
                self.coupons.take(lane, sale.coupons, env["id"], sale.discounts)
                if self.coupons
                else {"coupons": sale.coupons}
            )
            lines = [
                {
                    **_plain(ln),
                    "total_fen": pricing.line_total(
                        ln.qty_milli, ln.unit_price_fen, ln.discount_fen
                    ),
                }
                for ln in sale.lines
            ]
            total = sum(x["total_fen"] for x in lines) - sum(d.amount_fen for d in sale.discounts)
            if not 0 <= total <= bounds.MAX_FEN:  # before it reaches the shift counters
                raise ValueError(f"sale total {total} fen is outside 0..{bounds.MAX_FEN}")
            paid = sum(p.amount_fen for p in sale.payments)
            day = self.business_day(env["occurred_at"])
            n = self.journal.next_counter(f"receipt:{lane}:{day.isoformat()}")
            self.journal.next_counter(f"shift:{lane}:count")
            self.journal.next_counter(f"shift:{lane}:fen", total)
            return {
                "sale_id": env["id"],
                "lane": lane,
                "cashier": sale.cashier,
                "receipt_no": f"{day:%Y%m%d}-{lane}-{n:04d}",
                "business_day": day.isoformat(),
                "lines": lines,
                "discounts": _plain(sale.discounts),
                "total_fen": total,
                "payments": _plain(sale.payments),
                "change_fen": max(paid - total, 0),
                "member_id": sale.member_id,
                "member": _plain(sale.member),
                "points_reservation": sale.points_reservation,
                **({"pricing": _plain(sale.pricing)} if sale.pricing else {}),
                **claimed,
            }

        resp, booked = self.commit(lane, "sale.completed", ref, request_hash, build)
        if booked:
            await self._after_sale(booked)
        return resp

    async def post_refund(self, request: web.Request) -> web.Response:
        refund: RefundIn = await self._body(request, RefundIn)
        lane = request.match_info["lane"]
        if not self.declared.known(lane):  # before any claim at the hub
            return _error(404, str(UnknownLane(lane)))
        return await self.refund(request, refund)

    async def refund(self, request: web.Request, refund: RefundIn) -> web.Response:
        """A refund on the request's lane: the lane API's path, and the returns screen's."""
        booked: list[dict[str, Any]] = []

        def commit(request: web.Request, *args: Any) -> tuple[web.Response, Any]:
            resp, env = self._commit(request, *args)
            booked.extend([env] if env else [])
            return resp, env

        resp = await self.returns.refund(request, refund, commit)  # edge/returns.py
        for env in booked:  # its slip is queued: wake the printer now the refund is durable
            await self.after_print(env)
        return resp

    async def after_print(self, doc: dict[str, Any]) -> None:
        """After a refund or a shift report is durable: the printers' `print_hooks`."""
        for hook in self.ctx.print_hooks:
            try:
                await hook(doc)
            except Exception:  # booked already; a printer hiccup must not fail the lane
                log.exception("after-print hook failed for %s", doc.get("id"))

    async def post_shift_close(self, request: web.Request) -> web.Response:
        shift: ShiftIn = await self._body(request, ShiftIn)
        ref = request.headers.get("Idempotency-Key") or shift.client_ref
        lane = request.match_info["lane"]
        return self.close_shift(lane, shift, ref, request.get(REQUEST_HASH))

    def close_shift(
        self,
        lane: str,
        shift: ShiftIn,
        ref: str | None,
        request_hash: str | None,
        refunds_fen: int = 0,
        hooks: Iterable[TxnHook] = (),
    ) -> web.Response:
        """Journal a shift close: the lane API's path, and the Z report's (edge/shifts.py)."""

        def build(env: dict[str, Any], lane: str) -> dict[str, Any]:
            return {
                "shift_id": shift.shift_id,
                "lane": lane,
                "cashier": shift.cashier,
                "opened_at": shift.opened_at.isoformat(),
                "closed_at": shift.closed_at.isoformat(),
                "sales_count": self.journal.take_counter(f"shift:{lane}:count"),
                "sales_fen": self.journal.take_counter(f"shift:{lane}:fen"),
                "refunds_fen": refunds_fen,
                "tenders": _plain(shift.tenders),
            }

        return self.commit(lane, "shift.closed", ref, request_hash, build, hooks)[0]

    async def get_journal(self, request: web.Request) -> web.Response:
        stats = self.journal.stats()
        if self.uplink:
            stats["uplink"] = self.uplink.stats()
        return web.json_response(stats)
