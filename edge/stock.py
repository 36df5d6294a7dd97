"""The store's own stock at its gateway, and the stock events it journals:

GET  /api/stock?sku=…                              on hand / reserved / available per SKU,
                                                   asked of the hub (RPC stock.levels)
GET  /api/stock/alerts                             the store's open stock alerts, as the hub
                                                   last published them (retained MQTT; works
                                                   while the hub is away)
POST /api/lanes/{lane}/pickups/{order_id}/complete hand an online order over (RPC)
POST /api/lanes/{lane}/stock/counts                a stocktake → stock.counted
POST /api/lanes/{lane}/stock/receipts              goods received → stock.received

Counts and receipts are journaled like sales (durable when answered, Idempotency-Key or
client_ref for retries) and reach the hub exactly once through the uplink.

The store's manager and technician see both on the admin pages' stock page (`/admin/stock`,
their log-in: what to reorder is the manager's business, not a cashier's): `board()` gives
the rows (SKU and the catalog's name), below the reorder point or in trouble first, and the
alerts with what to do, one per SKU."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

import msgspec
from aiohttp import web

from edge.lane import Lanes
from edge.rpc import HubCallError, HubCalls
from edge.snapshots import Snapshots
from edge.uplink import Uplink
from protocols import bounds, events, stock_alerts, topics

log = logging.getLogger(__name__)


class _In(msgspec.Struct, forbid_unknown_fields=True):
    pass


class CountIn(_In):
    counted_by: events.Text
    lines: Annotated[
        list[events.CountedLine], msgspec.Meta(min_length=1, max_length=bounds.MAX_LINES)
    ]
    note: events.Reason = ""
    client_ref: str | None = None


class ReceiptIn(_In):
    received_by: events.Text
    lines: Annotated[
        list[events.ReceivedLine], msgspec.Meta(min_length=1, max_length=bounds.MAX_LINES)
    ]
    po_id: events.Uuid | None = None
    note: events.Reason = ""
    client_ref: str | None = None


class StoreStock:
    def __init__(self, uplink: Uplink, calls: HubCalls) -> None:
        self.store = uplink.store
        self.calls = calls
        self.lanes: Lanes | None = None  # set by the gateway once its lanes exist
        self.snapshots: Snapshots | None = None  # set by the gateway: the catalog's names
        self.alerts: list[dict[str, Any]] = []
        self.alerts_at: str | None = None
        # subscribed before the snapshots' config/+ (the first matching route takes a message)
        uplink.subscribe(topics.stock_alerts(uplink.store), self.on_alerts)

    def on_alerts(self, topic: str, payload: bytes) -> None:
        try:
            doc = json.loads(payload)
            if doc.get("store") != self.store or not isinstance(doc.get("alerts"), list):
                raise ValueError("not this store's alerts")
        except (ValueError, AttributeError) as err:
            log.error("stock alerts on %s refused: %s", topic, err)
            return
        if doc["alerts"] != self.alerts:  # (the message may come twice: config/+ matches too)
            for a in doc["alerts"]:
                log.warning("stock alert from the hub: %s %s", a.get("kind"), a.get("sku"))
        self.alerts, self.alerts_at = doc["alerts"], doc.get("at")

    async def board(self) -> dict[str, Any]:
        """The stock page's content: every SKU's position as the hub has it (online), named
        from the catalog snapshot held, the alerts as last published (also while the hub is
        away), one per SKU, the most severe (protocols/stock_alerts.py), each row marked with
        its alert, the troubled ones first, then the lowest available."""
        names = self.snapshots.item_names() if self.snapshots else {}
        alerts = [
            {**a, "name": names.get(str(a.get("sku")))}
            for a in stock_alerts.most_severe(self.alerts)
        ]
        by_sku = {str(a.get("sku")): [a] for a in alerts}
        try:
            levels = (await self.calls.call("stock.levels", {"skus": []}))["levels"]
            error = None
        except HubCallError as err:
            levels, error = [], err.reason
        rows = [
            {**lv, "name": names.get(lv["sku"]), "alerts": by_sku.get(lv["sku"], [])}
            for lv in levels
        ]
        rows.sort(key=lambda r: (not r["alerts"], r["available_milli"], r["sku"]))
        return {"rows": rows, "alerts": alerts, "at": self.alerts_at, "error": error}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/stock", self.levels),
            web.get("/api/stock/alerts", self.get_alerts),
            web.post("/api/lanes/{lane}/pickups/{order_id}/complete", self.pickup),
            web.post("/api/lanes/{lane}/stock/counts", self.count),
            web.post("/api/lanes/{lane}/stock/receipts", self.receipt),
        ]

    async def levels(self, request: web.Request) -> web.Response:
        return await self.calls._answer("stock.levels", {"skus": request.query.getall("sku", [])})

    async def get_alerts(self, request: web.Request) -> web.Response:
        alerts = stock_alerts.most_severe(self.alerts)  # one per SKU, as the page shows them
        return web.json_response({"store": self.store, "at": self.alerts_at, "alerts": alerts})

    async def pickup(self, request: web.Request) -> web.Response:
        params = {"order_id": request.match_info["order_id"]}
        return await self.calls._answer("pickup.complete", params, request.match_info["lane"])

    async def count(self, request: web.Request) -> web.Response:
        assert self.lanes is not None
        c: CountIn = await self.lanes._body(request, CountIn)

        def build(env: dict[str, Any], lane: str) -> dict[str, Any]:
            body = msgspec.to_builtins(c)
            del body["client_ref"]
            return {"count_id": env["id"], **body}

        return self.lanes._commit(request, "stock.counted", c.client_ref, build)[0]

    async def receipt(self, request: web.Request) -> web.Response:
        assert self.lanes is not None
        r: ReceiptIn = await self.lanes._body(request, ReceiptIn)

        def build(env: dict[str, Any], lane: str) -> dict[str, Any]:
            body = msgspec.to_builtins(r)
            del body["client_ref"]
            return {"receipt_id": env["id"], **body}

        return self.lanes._commit(request, "stock.received", r.client_ref, build)[0]
