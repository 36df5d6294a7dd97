"""The gateway's lane and device API as an OpenAPI 3.1 document, generated from the types that
validate the bodies (msgspec structs, the lanes' loyalty calls and weighing too), served at
`/openapi.json`, with a self-contained docs page at `/docs` (protocols/api_docs.html, the hub's
too: no script, font or style from the internet — a store may have none). A page of our own
rather than Swagger UI from a package: swagger-ui-bundle 1.1.0 would do it offline, but ships
Swagger UI 4.15 (8 MiB unpacked, plus Jinja2) to every Pi-class gateway for what ~150 lines of
inline HTML and script do here.

Both are reachable without a token: they describe the API's shape, which is the same on every
gateway and public in this repository, and hold no data, no store name, no token. A lane
integrator reads the contract before being handed a token; every call that reads or writes
data still needs one."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Literal, NamedTuple

import msgspec
from aiohttp import web

from edge.devices.lanes_io import WeighIn
from edge.lane import RefundIn, SaleIn, ShiftIn
from edge.shifts import CloseIn, OpenIn
from edge.stock import CountIn, ReceiptIn
from protocols import api_docs, events, rpc

REF = "#/components/schemas/{name}"


# --- answers (documentation of what the handlers return; the tests check them against it) ---
class Error(msgspec.Struct):
    error: str


class Booked(msgspec.Struct):
    """The lane's answer once the event is durable in the journal (201; 200 with `duplicate`
    for a retry with the same Idempotency-Key or client_ref)."""

    id: str
    seq: int
    duplicate: bool
    sale_id: str | None = None
    refund_id: str | None = None
    receipt_no: str | None = None
    total_fen: int | None = None
    change_fen: int | None = None
    shift_id: str | None = None


class PaymentIn(msgspec.Struct):
    """A payment the gateway takes itself (card terminal, QR aggregator, cash drawer)."""

    method: Literal["cash", "card", "qr", "wechat", "alipay", "unionpay"]
    amount_fen: events.PositiveFen
    key: str | None = None  # or the Idempotency-Key header: the same key never pays twice
    auth_code: str | None = None  # the customer's payment code, for QR
    device: str | None = None  # which terminal or aggregator, when the lane has several
    tendered_fen: events.Fen | None = None  # cash handed over
    subject: str = ""
    wait_s: float | None = None  # how long to wait for a final state (at most 180)


class Op(NamedTuple):
    method: str
    path: str
    tag: str
    summary: str
    body: Any = None  # a msgspec struct, or "object" (free-form)
    ok: tuple[int, Any] = (200, "object")
    errors: tuple[int, ...] = (400,)
    query: tuple[str, ...] = ()
    example: dict[str, Any] | None = None


SALE_EXAMPLE = {
    "cashier": "张丽",
    "lines": [
        {"sku": "6901028075015", "name": "农夫山泉 550ml", "qty_milli": 2000,
         "unit_price_fen": 200},
        {"sku": "2000101", "name": "富士苹果", "qty_milli": 750, "unit_price_fen": 1280,
         "weighed": True, "category": "fresh"},
    ],
    "payments": [{"tender": "cash", "amount_fen": 2000}],
}  # fmt: skip
REFUND_EXAMPLE = {
    "cashier": "张丽",
    "sale_id": "0193f1e2-…-the sale_id the sale answered",
    "lines": [{"sku": "6901028075015", "qty_milli": 1000, "amount_fen": 200}],
    "payments": [{"tender": "cash", "amount_fen": 200}],
    "reason": "damaged bottle",
}
SHIFT_EXAMPLE = {
    "cashier": "张丽",
    "shift_id": "lane1-2026-11-28-am",
    "opened_at": "2026-11-28T08:00:00+08:00",
    "closed_at": "2026-11-28T14:00:00+08:00",
    "tenders": [{"tender": "cash", "expected_fen": 1800, "counted_fen": 1800}],
}

COUNT_EXAMPLE = {"counted_by": "李娜", "lines": [{"sku": "6901028075015", "counted_milli": 46000}]}
RECEIPT_EXAMPLE = {
    "received_by": "王强",
    "po_id": "0193f1e2-…-the PO id (or none)",
    "lines": [{"sku": "2000101", "qty_milli": 20000, "damaged_milli": 500}],
}

OPS: tuple[Op, ...] = (
    Op("post", "/api/lanes/{lane}/sales", "lanes", "Commit a sale (durable when answered)",
       SaleIn, (201, Booked), (400, 507), example=SALE_EXAMPLE),
    Op("post", "/api/lanes/{lane}/refunds", "lanes", "Commit a refund of (part of) a sale",
       RefundIn, (201, Booked), (400, 507), example=REFUND_EXAMPLE),
    Op("post", "/api/lanes/{lane}/shifts/close", "lanes", "Close a cashier's shift",
       ShiftIn, (201, Booked), (400, 507), example=SHIFT_EXAMPLE),
    Op("get", "/api/journal", "lanes", "The journal: last seq, what the hub acknowledged",
       errors=()),
    Op("post", "/api/lanes/{lane}/payments", "payments", "Take a payment (card, QR, cash)",
       PaymentIn, (201, "object"), (400, 409)),
    Op("get", "/api/lanes/{lane}/payments", "payments", "The lane's payments",
       errors=(), query=("state", "unclaimed")),
    Op("get", "/api/payments/{key}", "payments", "One payment and its history",
       errors=(404,), query=("wait_s",)),
    Op("post", "/api/payments/{key}/cancel", "payments", "Cancel a running payment",
       errors=(404, 409)),
    Op("post", "/api/payments/{key}/resolve", "payments",
       "The cashier settles a payment the terminal could not tell about "
       "(`approved`, and the slip's `receipt_no` when approved)", "object",
       errors=(400, 404, 409)),
    Op("post", "/api/payments/{key}/reverse", "payments",
       "Reverse an approved payment no sale took up", "object", errors=(404, 409)),
    Op("get", "/api/members/lookup", "loyalty", "Find a member (asks the hub)",
       errors=(400, 404, 503, 504), query=("phone", "card_no", "member_id")),
    Op("post", "/api/members", "loyalty", "Register a member at the till",
       rpc.MemberRegister, (201, "object"), (400, 503, 504)),
    Op("post", "/api/coupons/check", "loyalty", "Check a coupon against a basket",
       rpc.CouponCheck, errors=(400, 409, 503, 504)),
    Op("post", "/api/lanes/{lane}/coupons/reserve", "loyalty",
       "Claim a coupon for the basket before granting it (put the coupon in the sale)",
       rpc.CouponReserve, (201, "object"), (400, 409, 503, 504)),
    Op("post", "/api/lanes/{lane}/coupons/{rid}/release", "loyalty",
       "Give back a claimed coupon the sale did not use", errors=(404, 409)),
    Op("post", "/api/lanes/{lane}/points/reserve", "loyalty",
       "Hold points to pay with (put the reservation id in the sale)", "object",
       (201, "object"), (400, 409, 503, 504)),
    Op("post", "/api/lanes/{lane}/points/{rid}/commit", "loyalty", "Spend held points",
       "object", errors=(400, 409, 503, 504)),
    Op("post", "/api/lanes/{lane}/points/{rid}/release", "loyalty", "Release held points",
       errors=(400, 409, 503, 504)),
    Op("get", "/api/lanes/{lane}/events", "devices",
       "The lane's device events (server-sent events: scans, weights, payments)", errors=()),
    Op("post", "/api/lanes/{lane}/weigh", "devices", "Weigh an item on the lane's scale",
       WeighIn, errors=(400, 404, 409)),
    Op("get", "/api/receipts/{sale_id}.txt", "devices", "A receipt as text", errors=(404,)),
    Op("get", "/api/receipts/{sale_id}.png", "devices", "A receipt as an image",
       errors=(404,)),
    Op("post", "/api/lanes/{lane}/receipts/{sale_id}/reprint", "devices", "Reprint a receipt",
       errors=(404, 409)),
    Op("get", "/api/devices", "devices", "Every device, its state and actions", errors=()),
    Op("get", "/api/devices/{id}", "devices", "One device", errors=(404,)),
    Op("post", "/api/devices/{id}/{action}", "devices",
       "Run a device action (read, tare, zero, test-print, test-payment…)", "object",
       errors=(400, 404, 409)),
    Op("get", "/api/discovery", "devices", "What device discovery sees", errors=()),
    Op("get", "/api/snapshots", "store", "The hub's snapshots this gateway holds", errors=()),
    Op("get", "/api/stock", "store", "The store's own stock per SKU (asks the hub)",
       errors=(400, 503, 504), query=("sku",)),
    Op("get", "/api/stock/alerts", "store", "The store's open stock alerts (as last published)",
       errors=()),
    Op("post", "/api/lanes/{lane}/pickups/{order_id}/complete", "store",
       "Hand an online order over (its held goods leave the stock)", errors=(404, 409, 503, 504)),
    Op("post", "/api/lanes/{lane}/stock/counts", "lanes", "Book a stocktake (stock.counted)",
       CountIn, (201, Booked), (400, 422, 507), example=COUNT_EXAMPLE),
    Op("post", "/api/lanes/{lane}/stock/receipts", "lanes",
       "Book goods received, against a purchase order or not (stock.received)",
       ReceiptIn, (201, Booked), (400, 422, 507), example=RECEIPT_EXAMPLE),
    # the checkout lane: declared lanes, baskets, pairing, shifts (docs/lanes.md)
    Op("get", "/api/lanes", "lanes", "The declared lanes", errors=()),
    Op("put", "/api/lanes/{lane}", "lanes", "Declare (or rename) a lane: a manager",
       "object", errors=(400,)),
    Op("get", "/api/sales/by-receipt/{receipt_no}", "lanes",
       "The sale of a receipt in this journal and what is left to return", errors=(404,)),
    Op("get", "/api/lanes/{lane}/basket", "basket", "The lane's basket, priced",
       errors=(404,)),
    Op("post", "/api/lanes/{lane}/basket/scan", "basket",
       "Add a barcode, label code or PLU (weighed goods on the lane's scale)", "object",
       errors=(400, 404, 409)),
    Op("post", "/api/lanes/{lane}/basket/lines/{no}", "basket", "Change a line's quantity",
       "object", errors=(400, 404, 409)),
    Op("delete", "/api/lanes/{lane}/basket/lines/{no}", "basket", "Void a line",
       errors=(404, 409)),
    Op("post", "/api/lanes/{lane}/basket/member", "basket",
       "Identify the member (phone, card_no or qr): online, else the gateway's cache",
       "object", errors=(400, 404, 503)),
    Op("delete", "/api/lanes/{lane}/basket/member", "basket", "Remove the member",
       errors=(404, 409)),
    Op("post", "/api/lanes/{lane}/basket/suspend", "basket",
       "Suspend the basket (or send it to `to_lane`)", "object", errors=(400, 404, 409)),
    Op("post", "/api/lanes/{lane}/basket/resume/{basket}", "basket",
       "Resume a suspended basket", errors=(404, 409)),
    Op("post", "/api/lanes/{lane}/basket/pay", "basket",
       "A tender: cash, card, wechat / alipay / unionpay / qr; books the sale when paid",
       "object", errors=(400, 402, 404, 409)),
    Op("post", "/api/lanes/{lane}/basket/points", "basket",
       "Points as a tender (reserved at the hub, or offline per the store's policy)",
       "object", errors=(400, 404, 409, 503)),
    Op("post", "/api/lanes/{lane}/basket/payments/void", "basket",
       "Give back the tenders taken (reverse card / QR, release points)", errors=(404, 409)),
    Op("post", "/api/lanes/{lane}/basket/coupons", "basket",
       "Apply a coupon (`code`): claimed at the hub for this lane, priced by the engine",
       "object", errors=(400, 404, 409, 503, 504)),
    Op("delete", "/api/lanes/{lane}/basket/coupons/{code}", "basket",
       "Take a coupon off the basket (its claim is released)", errors=(400, 404, 409)),
    Op("post", "/api/lanes/{lane}/basket/override", "basket",
       "A manager's override of the margin floor (`username`, `password`: a gateway "
       "manager account); journaled with the sale", "object",
       errors=(400, 401, 403, 404, 409, 429, 503)),
    Op("post", "/api/lanes/{lane}/pairing", "pairing",
       "A one-time code to pair the lane's screen (a manager)", ok=(201, "object"),
       errors=(404,)),
    Op("post", "/api/pairing/staff", "pairing", "A one-time code to pair a staff phone",
       ok=(201, "object"), errors=()),
    Op("get", "/api/paired", "pairing", "The paired screens", errors=()),
    Op("delete", "/api/paired/{id}", "pairing", "Unpair a screen", errors=(400, 404)),
    Op("post", "/api/lanes/{lane}/shifts/open", "lanes", "Open a shift with a cash float",
       OpenIn, (201, "object"), (400, 404, 409)),
    Op("get", "/api/lanes/{lane}/shifts/current", "lanes", "The X report", errors=(404,)),
    Op("post", "/api/lanes/{lane}/shifts/current/close", "lanes",
       "Close the shift with the counts: the Z report, journaled and printed", CloseIn,
       (201, "object"), (400, 404, 507)),
    Op("post", "/api/lanes/{lane}/shifts/current/print", "lanes",
       "Print the X report on the lane's printer", ok=(200, "object"), errors=(404,)),
)  # fmt: skip

QUERY_DOC = {
    "state": "only payments in this state",
    "unclaimed": "only approved payments no sale has taken up (any value)",
    "wait_s": "wait up to this many seconds for a final state",
    "phone": "the member's mobile number",
    "card_no": "the member's card number",
    "member_id": "the member's id",
    "sku": "a SKU to show (repeat for several; none: every SKU the store has)",
}


def _schema(t: Any) -> dict[str, Any]:
    if t == "object" or t is None:
        return {"type": "object"}
    return {"$ref": REF.format(name=t.__name__)}


def _components() -> dict[str, Any]:
    structs = sorted(
        {
            t
            for op in OPS
            for t in (op.body, op.ok[1])
            if isinstance(t, type) and issubclass(t, msgspec.Struct)
        }
        | {Error},
        key=lambda t: t.__name__,
    )
    _, schemas = msgspec.json.schema_components(structs, ref_template=REF)
    for name, schema in schemas.items():  # described here, not by docstrings: the gateway
        schema.pop("description", None)  # runs under -OO (storegw/cli.py), which drops them;
        if name in STRUCT_DOC:  # the same text (tests/edge/test_openapi.py holds them equal)
            schema["description"] = STRUCT_DOC[name]
    return schemas


STRUCT_DOC = {
    "Booked": "The lane's answer once the event is durable in the journal (201; 200 with "
    "`duplicate`\n    for a retry with the same Idempotency-Key or client_ref).",
    "CouponReserve": "Claim the coupon for this lane's basket before granting it (check + hold, "
    "atomically).",
    "PaymentIn": "A payment the gateway takes itself (card terminal, QR aggregator, cash drawer).",
    "PricedWith": "How the lane priced the sale: the engine's inputs beyond the lines and "
    "coupons, and\n    the savings it gave. The hub recomputes the sale from these (hub/pricing) "
    "and flags any\n    difference; a sale without them is recomputed with the hub's current "
    "promotions.",
    "Saved": "One saving on the receipt, as the pricing engine gave it (protocols.pricing.Saving).",
}


def _operation(op: Op) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_params(op.path)
    ]
    params += [
        {
            "name": q,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": QUERY_DOC.get(q, ""),
        }
        for q in op.query
    ]
    if op.method == "post" and (op.tag == "lanes" or op.path.endswith("/payments")):
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "the lane's own id for this request: a retry books nothing twice",
            }
        )
    status, ok = op.ok
    responses: dict[str, Any] = {
        str(status): {
            "description": "done",
            "content": {"application/json": {"schema": _schema(ok)}},
        },
        "401": {"$ref": "#/components/responses/Unauthorized"},
    }
    for code in op.errors:
        responses[str(code)] = {
            "description": ERRORS.get(code, "refused"),
            "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}},
        }
    out: dict[str, Any] = {
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": op.method + re.sub(r"[^a-z0-9]+", "_", op.path),
        "parameters": params,
        "responses": responses,
    }
    if op.body is not None:
        media: dict[str, Any] = {"schema": _schema(op.body)}
        if op.example:
            media["example"] = op.example
        out["requestBody"] = {
            "required": op.body != "object",
            "content": {"application/json": media},
        }
    return out


ERRORS = {
    400: "bad input: the body does not fit its schema (the error says where and why)",
    404: "no such thing",
    409: "not possible now (the device or payment is in another state)",
    503: "no connection to the hub: online loyalty is unavailable",
    504: "the hub did not answer in time",
    507: "the journal is full: the gateway cannot take new events",
}


def _path_params(path: str) -> list[str]:
    return [part[1:].split("}")[0] for part in path.split("/") if part.startswith("{")]


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the gateway's API."""
    paths: dict[str, Any] = {}
    for op in OPS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    open_op = {"security": [], "responses": {"200": {"description": "ok"}}}
    paths["/health"] = {"get": {**open_op, "tags": ["ops"], "summary": "Is the gateway up"}}
    paths["/metrics"] = {"get": {
        "tags": ["ops"],
        "summary": "Prometheus metrics: sales, journal backlog and drain rate, uplink, devices",
        "description": "the API token or the metrics token (STOREGW_METRICS_TOKEN or "
                       "<data dir>/metrics-token); text format 0.0.4",
        "responses": {
            "200": {"description": "the metrics", "content": {"text/plain": {"schema": {
                "type": "string"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
        },
    }}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "storegw gateway: lane and device API",
            "version": "1",
            "description": (
                "What a checkout lane, a POS app or a technician calls on the store's gateway. "
                "Every call needs the gateway's bearer token (`STOREGW_EDGE_TOKEN` or "
                "`<data dir>/edge-token`). Money is integer fen; quantities are milli-units. "
                "A sale, refund or shift close is answered once durable in the journal."
            ),
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the gateway's token (edge-token)",
                }
            },
            "responses": {
                "Unauthorized": {
                    "description": "missing or wrong bearer token",
                    "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}},
                }
            },
        },
    }


@cache
def _spec() -> bytes:
    """Built once, at the first request (not at start: the document and the JSON
    schemas it is made from are garbage a gateway nobody asks for its API keeps resident)."""
    return msgspec.json.encode(document())


@cache
def _page() -> str:
    from importlib import resources  # at the first /docs: with zipfile, not an idle gateway's

    return resources.files("protocols").joinpath(api_docs.PAGE).read_text("utf-8")


# the handlers: their routes are the gateway's (edge/gateway.py API_DOCS), this module loads at
# the first request to one of them
async def spec(request: web.Request) -> web.Response:
    return web.Response(body=_spec(), content_type="application/json")


async def docs(request: web.Request) -> web.Response:
    return web.Response(
        text=_page(),
        content_type="text/html",
        headers={"Content-Security-Policy": api_docs.CSP},
    )
