"""A cashier's shift on a lane: opened with a cash float, read at any time (the X report: no
side effects), closed with what the cashier counted (the Z report), which is journaled as the
lane API's `shift.closed` event — the same path as `POST /api/lanes/{lane}/shifts/close`, with
the expected figures the gateway computed itself.

The figures come from the journal: the lane's sales and refunds since the shift opened (the
journal's seq at opening), per tender; cash expected = float + cash taken − change − cash
refunded. One open shift per lane is the database's rule (a unique index).

Closing prints the Z report on the lane's printer (in the store's language, the printer's
`language` option): its print job is queued by the printers' `print_txn_hooks` inside the
transaction that journals `shift.closed`, as is the shift's own closing, so a crash loses
neither. `POST …/shifts/current/print` prints the X report."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from edge import http_errors
from edge.journal import JournalDb
from edge.lane import Lanes, ShiftIn
from transport.ids import new_id

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS shifts (
        id TEXT PRIMARY KEY,
        lane TEXT NOT NULL,
        cashier TEXT NOT NULL,
        float_fen INTEGER NOT NULL CHECK (float_fen >= 0),
        opened_seq INTEGER NOT NULL,
        opened_at TEXT NOT NULL,
        closed_at TEXT
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS shifts_one_open ON shifts (lane) WHERE closed_at IS NULL",
]


class OpenIn(msgspec.Struct, forbid_unknown_fields=True):
    cashier: str
    float_fen: int = 0


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    counted: dict[str, int] = {}  # tender → fen the cashier counted


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


class Shifts:
    def __init__(self, conn: sqlite3.Connection, lanes: Lanes) -> None:
        self.conn, self.lanes = conn, lanes
        for sql in SCHEMA:
            conn.execute(sql)

    def current(self, lane: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT id, cashier, float_fen, opened_seq, opened_at FROM shifts "
            "WHERE lane = ? AND closed_at IS NULL",
            (lane,),
        ).fetchone()
        keys = ("shift_id", "cashier", "float_fen", "opened_seq", "opened_at")
        return dict(zip(keys, row, strict=True)) if row else None

    def cashier(self, lane: str) -> str | None:
        """Who has the lane's open shift (a refund on the returns screen is theirs)."""
        shift = self.current(lane)
        return shift["cashier"] if shift else None

    def report(self, lane: str, shift: dict[str, Any]) -> dict[str, Any]:
        """The X report: what the journal holds for this lane since the shift opened."""
        sales = refunds = sales_fen = refunds_fen = change = 0
        tenders: dict[str, int] = defaultdict(int)
        rows = self.conn.execute(
            "SELECT type, envelope FROM events WHERE seq > ? AND type IN "
            "('sale.completed', 'sale.refunded') ORDER BY seq",
            (shift["opened_seq"],),
        )
        for type_, raw in rows:
            body = json.loads(raw)["body"]
            if body.get("lane") != lane:
                continue
            sign = 1 if type_ == "sale.completed" else -1
            for p in body.get("payments", []):
                tenders[p["tender"]] += sign * p["amount_fen"]
            if sign > 0:
                sales, sales_fen = sales + 1, sales_fen + body["total_fen"]
                change += body.get("change_fen", 0)
            else:
                refunds, refunds_fen = refunds + 1, refunds_fen + body["total_fen"]
        tenders["cash"] -= change
        return {
            **{k: shift[k] for k in ("shift_id", "cashier", "float_fen", "opened_at")},
            "lane": lane,
            "sales_count": sales,
            "sales_fen": sales_fen,
            "refunds_count": refunds,
            "refunds_fen": refunds_fen,
            "tenders": dict(sorted(tenders.items())),
            "expected_cash_fen": shift["float_fen"] + tenders["cash"],
        }

    # --- routes ----------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/lanes/{lane}/shifts/open", self.open),
            web.get("/api/lanes/{lane}/shifts/current", self.x_report),
            web.post("/api/lanes/{lane}/shifts/current/close", self.z_report),
            web.post("/api/lanes/{lane}/shifts/current/print", self.print_x),
        ]

    def _print(self, db: JournalDb, report_id: str, at: str, report: dict[str, Any]) -> None:
        doc = {"type": "shift.report", "id": report_id, "occurred_at": at, "body": report}
        for hook in self.lanes.ctx.print_txn_hooks:
            hook(db, doc)

    async def print_x(self, request: web.Request) -> web.Response:
        """Print the X report now (a reading: nothing is journaled)."""
        lane = request.match_info["lane"]
        shift = self.current(lane)
        if shift is None:
            return _error(404, f"lane {lane} has no open shift")
        x, report_id, now = self.report(lane, shift), new_id(), datetime.now(UTC).isoformat()
        self._print(self.lanes.journal.db, report_id, now, x)
        await self.lanes.after_print({"id": report_id, "body": x})
        return web.json_response(x)

    async def open(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        body: OpenIn = await http_errors.read_json(request, OpenIn)
        if not self.lanes.declared.known(lane):
            return _error(404, f"unknown lane {lane!r}")
        if not 0 < len(body.cashier) <= 64 or not 0 <= body.float_fen <= 10**9:
            return _error(400, "cashier: 1-64 characters; float_fen: 0..10^9 fen")
        shift_id = new_id()
        try:
            self.conn.execute(
                "INSERT INTO shifts (id, lane, cashier, float_fen, opened_seq, opened_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (shift_id, lane, body.cashier, body.float_fen, self.lanes.journal.last_seq,
                 datetime.now(UTC).isoformat()),
            )  # fmt: skip
        except sqlite3.IntegrityError:
            return _error(409, f"lane {lane} already has an open shift: close it first")
        log.info("lane %s: shift opened by %s with %d fen", lane, body.cashier, body.float_fen)
        shift = self.current(lane)
        assert shift is not None
        return web.json_response(self.report(lane, shift), status=201)

    async def x_report(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        shift = self.current(lane)
        if shift is None:
            return _error(404, f"lane {lane} has no open shift")
        return web.json_response(self.report(lane, shift))

    async def z_report(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        body: CloseIn = await http_errors.read_json(request, CloseIn, empty=CloseIn())
        shift = self.current(lane)
        if shift is None:
            return _error(404, f"lane {lane} has no open shift")
        x = self.report(lane, shift)
        expected = {**x["tenders"], "cash": x["expected_cash_fen"]}
        tenders = [
            {"tender": t, "expected_fen": max(fen, 0), "counted_fen": body.counted.get(t)}
            for t, fen in sorted(expected.items())
        ]
        close = msgspec.convert(
            {"cashier": shift["cashier"], "shift_id": shift["shift_id"],
             "opened_at": shift["opened_at"], "closed_at": datetime.now(UTC).isoformat(),
             "tenders": tenders},
            ShiftIn, strict=False,
        )  # fmt: skip
        z = {
            **x,
            "closed_at": close.closed_at.isoformat(),
            "counted": body.counted,
            "over_short_fen": {
                t["tender"]: t["counted_fen"] - t["expected_fen"]
                for t in tenders
                if t["counted_fen"] is not None
            },
        }

        def closing(db: JournalDb, env: dict[str, Any]) -> None:
            # in the journal's transaction: the shift closes and its Z report is queued with it
            db.execute(
                "UPDATE shifts SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
                (z["closed_at"], shift["shift_id"]),
            )
            self._print(db, env["id"], env["occurred_at"], z)

        resp = self.lanes.close_shift(
            lane, close, shift["shift_id"], None, x["refunds_fen"], hooks=(closing,)
        )
        if resp.status >= 300:
            return resp
        journal = json.loads(resp.body)  # type: ignore[arg-type]
        await self.lanes.after_print({"id": journal["id"], "body": z})
        log.info("lane %s: shift %s closed (Z): %s", lane, shift["shift_id"], z["over_short_fen"])
        return web.json_response({**z, "journal": journal}, status=201)
