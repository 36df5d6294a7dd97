"""The returns screen on a paired lane (`/lane/{lane}/returns`): find a receipt by its barcode
or number (or a sale of another store of the chain by its id, asked of the hub), see its lines
and what was already returned at any store, pick lines and quantities, see the refund per
original tender and the points and coupons it reverses, confirm. The refund itself is the lane
API's (edge/lane.py → edge/returns.py: checked against the journal, claimed at the hub when
online), and its slip prints in the refund's transaction (edge/devices/printer.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from edge import http_errors
from edge.lane import Lanes, RefundIn
from edge.returns import ReturnDesk, ReturnError

if TYPE_CHECKING:
    from edge.pages.routes import Pages

log = logging.getLogger(__name__)


def _refused(lane: str, err: ReturnError) -> web.Response:
    log.warning("lane %s: returns screen: %s", lane, err.reason)
    # `why`: the page's own words for it (edge/pages/i18n.py why_<code>, common.js call)
    return web.json_response({"error": err.reason, "why": err.code}, status=err.status)


def _picks(body: dict[str, Any]) -> tuple[str, dict[int, int]]:
    sale_id, picks = body.get("sale_id"), body.get("picks")
    ok = isinstance(sale_id, str) and isinstance(picks, list) and len(picks) <= 500
    out: dict[int, int] = {}
    for p in picks if ok else ():  # type: ignore[union-attr]
        line, qty = (p.get("line"), p.get("qty_milli")) if isinstance(p, dict) else (None, None)
        if type(line) is not int or type(qty) is not int or qty < 0 or line in out:
            ok = False
            break
        out[line] = qty
    if not ok:
        raise ReturnError(400, "bad_request", "sale_id and picks: [{line, qty_milli}], each "
                          "line once, quantities in milli-units")  # fmt: skip
    return str(sale_id), out


class ReturnsScreen:
    def __init__(self, pages: Pages, lanes: Lanes, cashier_of: Callable[[str], str | None]) -> None:
        self.pages, self.lanes, self.cashier_of = pages, lanes, cashier_of
        self.desk = ReturnDesk(lanes.returns)

    async def page(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        return self.pages.render(request, "returns.html", lane=lane, api=f"/lane/{lane}")

    async def receipt(self, request: web.Request) -> web.Response:
        lane, q = request.match_info["lane"], request.query.get("q", "")
        if not 0 < len(q) <= 64 or not q.isprintable():
            return _refused(lane, ReturnError(400, "bad_request", "q: the receipt number"))
        try:
            return web.json_response(self.desk.view(*await self.desk.find(q, lane)))
        except ReturnError as err:
            return _refused(lane, err)

    async def _quote(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        body = await http_errors.read_object(request)
        sale_id, picks = _picks(body)
        sale, earlier = await self.desk.find(sale_id, request.match_info["lane"])
        return body, self.desk.quote(sale, earlier, picks)

    async def quote(self, request: web.Request) -> web.Response:
        try:
            return web.json_response((await self._quote(request))[1])
        except ReturnError as err:
            return _refused(request.match_info["lane"], err)

    async def confirm(self, request: web.Request) -> web.Response:
        """The refund as quoted now (never a stale quote from the page), by the lane API."""
        lane = request.match_info["lane"]
        key = request.headers.get("Idempotency-Key")
        row = (
            key
            and self.lanes.journal.conn.execute(
                "SELECT envelope FROM events WHERE client_ref = ? AND type = 'sale.refunded'",
                (key,),
            ).fetchone()
        )
        if row:  # a retried click whose answer was lost: the refund it made, not a new quote
            keys = ("cashier", "sale_id", "lines", "payments", "reason")
            made = {k: v for k, v in json.loads(row[0])["body"].items() if k in keys}
            return await self.lanes.refund(request, msgspec.convert(made, RefundIn))
        try:
            body, q = await self._quote(request)
        except ReturnError as err:
            return _refused(lane, err)
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500 or not reason.isprintable():
            return _refused(lane, ReturnError(400, "bad_request", "reason: up to 500 characters"))
        lines = [{k: x[k] for k in ("sku", "qty_milli", "amount_fen", "line")} for x in q["lines"]]
        refund = msgspec.convert(
            {"cashier": self.cashier_of(lane) or f"lane {lane}", "sale_id": q["sale_id"],
             "lines": lines, "payments": q["payments"], "reason": reason},
            RefundIn,
        )  # fmt: skip
        return await self.lanes.refund(request, refund)
