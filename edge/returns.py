"""Refunds at the lane: checked before the cashier pays anything out.

1. `sale_id` must be a sale id (a UUID): anything else is a 400, never a lookup.
2. A sale in this gateway's own journal is checked here, per line and in total, against the
   refunds of it already in the journal (and again inside the journal's write transaction, so
   two lanes of this gateway cannot both pass).
3. The hub is asked online (RPC `refund.claim`) when it is reachable: it knows the refunds
   other stores made, answers what is left and holds this refund's part until the refund (which
   carries the claim id) is booked. A refusal (409 beyond what is left, 422 a SKU not in the
   sale) is the lane's answer.
4. A sale neither in the journal nor known to a reachable hub follows the store's policy:
   `STOREGW_OFFLINE_REFUND_CAP_FEN` fen per sale may be refunded without the hub (0, the
   default, refuses); the hub checks those refunds when the sale reaches it and lists any excess
   as a refund issue (GET /api/refunds/issues on the hub)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from edge.journal import Journal
from edge.rpc import HubCallError, HubCalls
from protocols import events
from protocols.refunds import Refundable, Refusal, is_sale_id
from transport.ids import new_id

log = logging.getLogger(__name__)

CLAIM_TIMEOUT_S = 3.0  # the cashier is waiting; past this the hub counts as unreachable

INDEX = (
    "CREATE INDEX IF NOT EXISTS events_refund_of "
    "ON events(json_extract(envelope, '$.body.sale_id')) WHERE type = 'sale.refunded'"
)
RECEIPT_INDEX = (  # a return starts from the receipt the customer brings
    "CREATE INDEX IF NOT EXISTS events_receipt_no "
    "ON events(json_extract(envelope, '$.body.receipt_no')) WHERE type = 'sale.completed'"
)

Commit = Callable[..., tuple[web.Response, dict[str, Any] | None]]


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


class Returns:
    def __init__(
        self, journal: Journal, hub: HubCalls | None = None, offline_cap_fen: int | None = None
    ) -> None:
        self.journal = journal
        self.hub = hub
        if offline_cap_fen is None:
            offline_cap_fen = int(os.environ.get("STOREGW_OFFLINE_REFUND_CAP_FEN", "0"))
        self.offline_cap_fen = offline_cap_fen
        self._tasks: set[asyncio.Task[None]] = set()
        journal.conn.execute(INDEX)  # earlier refunds of a sale, found without a scan
        journal.conn.execute(RECEIPT_INDEX)

    # --- the journal -------------------------------------------------------------------------
    def _sale(self, sale_id: str) -> dict[str, Any] | None:
        row = self.journal.conn.execute(
            "SELECT envelope FROM events WHERE id = ? AND type = 'sale.completed'", (sale_id,)
        ).fetchone()
        return json.loads(row[0])["body"] if row else None

    def _earlier(self, sale_id: str) -> list[dict[str, Any]]:
        rows = self.journal.conn.execute(
            "SELECT envelope FROM events WHERE type = 'sale.refunded' "
            "AND json_extract(envelope, '$.body.sale_id') = ? ORDER BY seq",
            (sale_id,),
        )
        return [json.loads(r[0])["body"] for r in rows]

    def _left(
        self, sale_id: str, sale: dict[str, Any], earlier: list[dict[str, Any]] | None = None
    ) -> Refundable:
        """The sale less its earlier refunds: those in this journal unless given (the hub's
        and this journal's, for another store's sale)."""
        left = Refundable.of_sale_body(sale)
        for done in self._earlier(sale_id) if earlier is None else earlier:
            try:
                left.take(done["lines"])
            except Refusal:  # booked by an older lane without these checks: count its total
                left.refunded_fen += done["total_fen"]
        return left

    def _within_cap(self, sale_id: str, total: int) -> str | None:
        done = sum(r["total_fen"] for r in self._earlier(sale_id))
        if done + total <= self.offline_cap_fen:
            return None
        return (
            f"this store refunds at most {self.offline_cap_fen} fen of a sale it cannot check "
            f"({done} fen already refunded here)"
        )

    async def by_receipt(self, request: web.Request) -> web.Response:
        """`GET /api/sales/by-receipt/{receipt_no}`: the sale on a receipt of this gateway and
        what is left to return of each line, for a refund against it (`POST …/refunds` with
        its `sale_id`, the lines, and the original tenders)."""
        no = request.match_info["receipt_no"]
        row = self.journal.conn.execute(
            "SELECT envelope FROM events WHERE type = 'sale.completed' "
            "AND json_extract(envelope, '$.body.receipt_no') = ?",
            (no,),
        ).fetchone()
        if row is None:
            return _error(404, f"receipt {no} is not in this gateway's journal: refund by the "
                               "sale id printed on it (the hub is asked)")  # fmt: skip
        sale = json.loads(row[0])["body"]
        left = self._left(sale["sale_id"], sale)
        return web.json_response({
            "sale": sale,
            "left": [{"line": x.n, "sku": x.sku, "qty_milli": x.qty_milli - x.refunded_qty_milli,
                      "fen": x.total_fen - x.refunded_fen} for x in left.lines],
            "fen_left": left.fen_left,
        })  # fmt: skip

    # --- the hub -----------------------------------------------------------------------------
    def _hub_reachable(self) -> bool:
        up = self.hub.uplink if self.hub else None
        # the hub's retained status says online: a hub never seen is not waited for
        return bool(up and up.connected and up.hub_online)

    async def _release(self, claim_id: str, lane: str) -> None:
        assert self.hub
        try:
            await self.hub.call("refund.release", {"claim_id": claim_id}, lane)
        except HubCallError as err:  # it expires at the hub anyway
            log.info("claim %s not released (%s): it will time out", claim_id, err.reason)

    def _release_later(self, claim_id: str, lane: str) -> None:
        task = asyncio.get_running_loop().create_task(self._release(claim_id, lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the route's work --------------------------------------------------------------------
    async def refund(self, request: web.Request, refund: Any, commit: Commit) -> web.Response:
        lane = request.match_info["lane"]
        sale_id: str = refund.sale_id.strip().lower()  # as typed from a receipt
        wanted = [msgspec.to_builtins(x) for x in refund.lines]
        total = sum(x["amount_fen"] for x in wanted)

        def refused(status: int, reason: str) -> web.Response:
            log.warning("lane %s: refund of sale %r refused: %s", lane, sale_id[:80], reason)
            return _error(status, reason)

        if not is_sale_id(sale_id):
            return refused(400, "sale_id is not a sale id (the UUID on the receipt)")

        def body(env: dict[str, Any], claim_id: str | None) -> dict[str, Any]:
            return {
                "refund_id": env["id"],
                "sale_id": sale_id,
                "lane": lane,
                "cashier": refund.cashier,
                "reason": refund.reason,
                "lines": wanted,
                "total_fen": total,
                "payments": msgspec.to_builtins(refund.payments),
                "claim_id": claim_id,
            }

        try:  # its own arithmetic first, before asking anyone anything
            events.check_body("sale.refunded", 1, body({"id": "-"}, None))
        except events.BodyError as err:
            return refused(400, str(err))
        ref = request.headers.get("Idempotency-Key") or refund.client_ref
        if (
            ref
            and self.journal.conn.execute(
                "SELECT 1 FROM events WHERE client_ref = ?", (ref,)
            ).fetchone()
        ):  # a retry of a refund already made: the journal answers with it

            def gone(env: dict[str, Any], _lane: str) -> dict[str, Any]:
                raise Refusal("the refund this retries is no longer in the journal; ask again")

            return commit(request, "sale.refunded", refund.client_ref, gone)[0]

        sale = self._sale(sale_id)
        if sale is not None:
            try:
                self._left(sale_id, sale).take(wanted)
            except Refusal as err:
                return refused(err.status, err.reason)

        claim_id: str | None = None
        unchecked: str | None = None  # why nobody could check it, when nobody could
        if self._hub_reachable():
            assert self.hub
            claim_id = new_id()
            params = {"claim_id": claim_id, "sale_id": sale_id, "lines": wanted}
            try:
                await self.hub.call("refund.claim", params, lane, CLAIM_TIMEOUT_S)
            except HubCallError as err:
                claim_id = None
                if err.status in (409, 422):
                    return refused(err.status, f"the hub says: {err.reason}")
                if err.status not in (404, 503, 504):
                    return refused(err.status, err.reason)
                unchecked = (
                    f"sale {sale_id} is not in this gateway's journal nor at the hub"
                    if err.status == 404
                    else f"the hub could not be asked ({err.reason})"
                )
        else:
            unchecked = "the hub is unreachable"
        if sale is None and unchecked is not None:
            if why := self._within_cap(sale_id, total):
                status = 404 if "nor at the hub" in unchecked else 503
                return refused(status, f"{unchecked}; {why}")
            log.warning(
                "lane %s: refund of %s fen of sale %s made unchecked (%s): the hub reconciles",
                lane,
                total,
                sale_id,
                unchecked,
            )

        def build(env: dict[str, Any], _lane: str) -> dict[str, Any]:
            # again inside the journal's write lock: another lane may have refunded meanwhile
            if sale is not None:
                self._left(sale_id, sale).take(wanted)
            elif claim_id is None and (why := self._within_cap(sale_id, total)):
                raise Refusal(why)
            return body(env, claim_id)

        resp, booked = commit(request, "sale.refunded", refund.client_ref, build)
        if claim_id and booked is None:  # refused, or a concurrent retry won: give it back
            self._release_later(claim_id, lane)
        return resp


# --- the returns screen: a receipt, what is left of it, and what a return gives back -------------
class ReturnError(ValueError):
    """What the returns screen cannot do, with a `code` the page words in zh/en."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


def _half_up(num: int, den: int) -> int:
    return (2 * num + den) // (2 * den)


def _net_tenders(sale: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, int]:
    """What each original tender took, net of the change, less what refunds already gave back
    to it: the refund goes back the way the money came."""
    net: dict[str, int] = {}
    for p in sale.get("payments", []):
        net[p["tender"]] = net.get(p["tender"], 0) + p["amount_fen"]
    if "cash" in net:
        net["cash"] -= sale.get("change_fen", 0)
    for r in earlier:
        for p in r["payments"]:
            net[p["tender"]] = net.get(p["tender"], 0) - p["amount_fen"]
    return {t: fen for t, fen in net.items() if fen > 0}


def _points_share(points: int, refunds: list[int], sale_fen: int) -> int:
    """The points the last of `refunds` takes back: the hub's rule (hub/loyalty/ingest.py),
    proportional half up and the rest on the refund that completes the sale."""
    done = refunded = 0
    share = 0
    for fen in refunds:
        refunded += fen
        left = points - done
        full = refunded >= sale_fen
        share = left if full else min(_half_up(points * fen, sale_fen), left)
        share = max(share, 0)
        done += share
    return share


def _sale_id_of(q: str) -> str | None:
    """The sale id typed, or the one ending the e-receipt QR code's address (…/r/{sale_id})."""
    tail = q.strip().lower().rstrip("/").rsplit("/", 1)[-1]
    return tail if is_sale_id(tail) else None


def _from_hub(got: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The hub's `sale.lookup` answer in the shape of this journal's sale and refund bodies,
    so one reading (view, quote) serves both."""
    member_id = got.get("member_id")
    sale = {
        "sale_id": got["id"],
        "store": got["store"],
        "receipt_no": got["receipt_no"],
        "occurred_at": got["occurred_at"],
        "total_fen": got["total_fen"],
        "change_fen": got["change_fen"],
        "lines": [{k: ln[k] for k in ("sku", "name", "qty_milli", "total_fen", "weighed")}
                  for ln in got["lines"]],
        "payments": [{"tender": p["tender"], "amount_fen": p["amount_fen"]}
                     for p in got["payments"]],
        "member_id": member_id,
        "member": {"member_id": member_id, "points_earned": got["points_earned"]}
        if member_id else None,
        "coupons": got["coupons"],
    }  # fmt: skip
    earlier = [
        {"refund_id": r["id"], "store": r["store"], "total_fen": r["total_fen"],
         "lines": r["lines"], "payments": r["payments"]}
        for r in got["refunds"]
    ]  # fmt: skip
    return sale, earlier


class ReturnDesk:
    """The returns screen's reading of the journal, or of the hub for a sale another store of
    the chain made (edge/pages/returns.py serves it): a receipt's lines with what is left, and
    the quote for the lines the cashier picks."""

    def __init__(self, returns: Returns) -> None:
        self.returns = returns

    async def find(self, q: str, lane: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The sale of a receipt number or sale id, and its earlier refunds: from this journal,
        else (by sale id: receipt numbers repeat across stores) from the hub."""
        q = q.strip()
        sale_id = _sale_id_of(q)
        conn = self.returns.journal.conn
        if sale_id is not None:
            row = conn.execute(
                "SELECT envelope FROM events WHERE id = ? AND type = 'sale.completed'",
                (sale_id,),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT envelope FROM events WHERE type = 'sale.completed' "
                "AND json_extract(envelope, '$.body.receipt_no') = ?",
                (q,),
            ).fetchone()
        if row is not None:
            env = json.loads(row[0])
            sale = {**env["body"], "store": env["store"], "occurred_at": env["occurred_at"]}
            return sale, self.returns._earlier(sale["sale_id"])
        if not self.returns._hub_reachable():
            why = f"receipt {q} is not in this gateway's journal and the hub cannot be asked now"
            raise ReturnError(503, "unknown_offline", why)
        if sale_id is None:  # a receipt number alone does not say which store's it is
            why = f"receipt {q} was not sold at this gateway: scan its QR code or type its sale id"
            raise ReturnError(404, "not_here", why)
        return await self._at_hub(sale_id, lane)

    async def _at_hub(self, sale_id: str, lane: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        assert self.returns.hub
        try:
            got = await self.returns.hub.call(
                "sale.lookup", {"sale_id": sale_id}, lane, CLAIM_TIMEOUT_S
            )
        except HubCallError as err:
            if err.status == 404:
                raise ReturnError(404, "unknown", f"sale {sale_id} is neither in this "
                                  "gateway's journal nor at the hub") from None  # fmt: skip
            if err.status in (400, 422):
                raise ReturnError(400, "bad_request", f"the hub says: {err.reason}") from None
            raise ReturnError(503, "unknown_offline", f"sale {sale_id} is another store's and "
                              f"the hub cannot be asked now ({err.reason})") from None  # fmt: skip
        sale, earlier = _from_hub(got)
        # this lane's refunds of it the hub has not booked yet (the uplink still carries them)
        booked = {r["refund_id"] for r in earlier}
        mine = [r for r in self.returns._earlier(sale_id) if r["refund_id"] not in booked]
        return sale, earlier + mine

    def view(self, sale: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
        left = self.returns._left(sale["sale_id"], sale, earlier)
        lines = [
            {"line": x.n, "sku": x.sku, "name": ln["name"], "weighed": ln.get("weighed", False),
             "qty_milli": x.qty_milli, "total_fen": x.total_fen, "qty_left": x.qty_left,
             "fen_left": min(x.fen_left, left.fen_left)}
            for x, ln in zip(left.lines, sale["lines"], strict=True)
        ]  # fmt: skip
        return {
            "sale_id": sale["sale_id"],
            "receipt_no": sale["receipt_no"],
            "store": sale["store"],
            "sold_here": sale["store"] == self.returns.journal.store,
            "occurred_at": sale["occurred_at"],
            "total_fen": sale["total_fen"],
            "refunded_fen": left.refunded_fen,
            "fen_left": left.fen_left,
            "tenders": _net_tenders(sale, earlier),
            "member": sale.get("member") if sale.get("member_id") else None,
            "coupons": sale.get("coupons", []),
            "lines": lines,
        }

    def quote(
        self, sale: dict[str, Any], earlier: list[dict[str, Any]], picks: dict[int, int]
    ) -> dict[str, Any]:
        """`picks` (line → quantity in milli-units) as refund lines priced from the sale (the
        last piece of a line takes what is left of it; a sale-level discount is shared
        pro rata), the refund split over the original tenders, the points taken back and the
        coupons given back when it completes the sale. ReturnError for what cannot be."""
        view = self.view(sale, earlier)
        if view["fen_left"] <= 0:
            raise ReturnError(409, "all_returned", "everything on this receipt was returned")
        by_n = {ln["line"]: ln for ln in view["lines"]}
        lines_sum = sum(ln["total_fen"] for ln in view["lines"]) or 1
        out: list[dict[str, Any]] = []
        for n, qty in sorted(picks.items()):
            ln = by_n.get(n)
            if ln is None:
                raise ReturnError(422, "no_line", f"the receipt has no line {n}")
            if qty <= 0:
                continue
            if qty > ln["qty_left"]:
                raise ReturnError(409, "over_qty", f"line {n} ({ln['name']}): {qty} milli asked, "
                                  f"{ln['qty_left']} left to return")  # fmt: skip
            if ln["weighed"] and qty != ln["qty_left"]:
                raise ReturnError(422, "weighed_whole", f"line {n} is weighed: return it whole")
            if qty == ln["qty_left"]:
                fen = ln["fen_left"]
            else:
                fen = _half_up(ln["total_fen"] * qty * sale["total_fen"],
                               ln["qty_milli"] * lines_sum)  # fmt: skip
            out.append({"line": n, "sku": ln["sku"], "name": ln["name"], "qty_milli": qty,
                        "amount_fen": min(fen, ln["fen_left"])})  # fmt: skip
        if not out:
            raise ReturnError(422, "nothing_picked", "pick the lines and quantities to return")
        completes = all(
            ln["qty_left"] == picks.get(ln["line"], 0) for ln in view["lines"]
        )  # the last return of the sale gives back all the money left
        total = sum(x["amount_fen"] for x in out)
        if completes or total > view["fen_left"]:
            out[-1]["amount_fen"] += view["fen_left"] - total
            total = view["fen_left"]
        tenders = view["tenders"] or {"cash": total}
        from protocols.pricing.basket import split  # the pricing engine's: with the first quote

        shares = split(total, list(tenders.values()))
        payments = [{"tender": t, "amount_fen": min(f, tenders[t])}
                    for t, f in zip(tenders, shares, strict=True) if f]  # fmt: skip
        member = view["member"] or {}
        earned = member.get("points_earned") or 0
        refunds = [r["total_fen"] for r in earlier] + [total]
        return {
            "sale_id": sale["sale_id"],
            "receipt_no": sale["receipt_no"],
            "lines": out,
            "total_fen": total,
            "payments": payments,
            "points_reversed": _points_share(earned, refunds, sale["total_fen"]) if earned else 0,
            "coupons_released": view["coupons"] if completes else [],
            "completes": completes,
        }
