"""The payment service the gateway wires in: the lane's payment API, resuming what a crash
left open, resolving lost answers, and reversing approved payments that no sale took up.

Never twice: the idempotency key is the primary key of the attempt; a second POST with it
joins the running attempt or returns its result, and never sends a second request to take
money. Never lost: the state is in the gateway's SQLite before each request goes out, and
`start()` picks up every attempt that is not final."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tomllib
import uuid
from types import ModuleType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge import http_errors
from edge.devices.base import Context, Device, DeviceError
from edge.devices.registry import of_driver
from edge.journal import Refused
from edge.payments import cash
from edge.payments.attempts import OPEN, Attempt, AttemptConflict, AttemptStore, ClaimRefused

if TYPE_CHECKING:
    from edge.devices.registry import Devices
    from edge.journal import JournalDb

log = logging.getLogger(__name__)

# the drivers payments runs on, by name: their modules load with the first such device
AGGREGATOR = "edge.devices.aggregator:Aggregator"
TERMINAL = "edge.devices.terminal:Terminal"

QR_METHODS = ("qr", "wechat", "alipay", "unionpay")
# tenders whose money the gateway takes (terminal, aggregator): a sale must name the payment
TAKEN_HERE = ("card", "wechat", "alipay", "unionpay", "other")
# not the payment service's: points holds and coupons are loyalty's (cash is the drawer's)
LOYALTY_TENDERS = ("points", "coupon")


# The payment flows and the protocols under them (ZVT, the QR aggregator's API) load with the
# first payment a device takes, as the drivers do with the first such device: not at start
def _flows() -> ModuleType:
    from edge.payments import flows

    return flows


def _qrpay() -> ModuleType:
    from protocols import qrpay  # a payment code's shape: with the first QR payment asked

    return qrpay


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


class Payments:
    def __init__(self, ctx: Context, devices: Devices) -> None:
        if ctx.db is None:
            raise ValueError("payments need the gateway database")
        self.ctx, self.devices = ctx, devices
        self.store = AttemptStore(ctx.db)
        conf: dict[str, Any] = {}
        path = ctx.data_dir / "payments.toml"
        if path.exists():
            conf = tomllib.loads(path.read_text("utf-8"))
        self.cash_rounding = str(conf.get("cash_rounding", "none"))
        cash.round_due(0, self.cash_rounding)  # a wrong rule fails at start, not at a sale
        self.resolve_interval_s = float(conf.get("resolve_interval_s", 10.0))
        self.unclaimed_reverse_after_s = float(conf.get("unclaimed_reverse_after_s", 900.0))
        external = conf.get("external_tenders", [])
        if not isinstance(external, list) or not set(external) <= set(TAKEN_HERE):
            raise ValueError(f"payments.toml: external_tenders must be a list of {TAKEN_HERE}")
        # store policy: these tenders may be taken outside the gateway (a standalone terminal)
        self.external_tenders = frozenset(str(t) for t in external)
        self._running: dict[str, asyncio.Task[Attempt]] = {}
        self._cancel: dict[str, asyncio.Event] = {}
        self._sweeper: asyncio.Task[None] | None = None
        # first: a sale that cannot take its payments up is refused before anything else is done
        ctx.sale_txn_hooks.insert(0, self._claim)
        # payments build on devices, not the other way round: the test action is offered here
        for kind in ("terminal", "aggregator"):
            devices.register_action(kind, "test-payment", test_payment)

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Resume every attempt a previous run left open, then keep sweeping."""
        for attempt in self.store.open():
            log.warning("payment %s was %s when the gateway stopped: resuming",
                        attempt.key, attempt.state)  # fmt: skip
        self.sweep()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="payments:sweep")

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for task in list(self._running.values()):
            task.cancel()
        for task in list(self._running.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._claim in self.ctx.sale_txn_hooks:
            self.ctx.sale_txn_hooks.remove(self._claim)

    def _claim(self, db: JournalDb, envelope: dict[str, Any]) -> None:
        """Inside the sale's journal transaction: the sale takes up every payment it names, or
        is refused (journal.Refused → 409, nothing booked). A card / QR tender must name, as
        `ref`, an approved payment taken through this gateway that no sale has taken yet,
        unless the store's policy lists the tender in `external_tenders`; a cash tender with a
        `ref` of a cash attempt takes that up too."""
        body = envelope.get("body", {})
        sale_id, lane = str(body.get("sale_id", "")), str(body.get("lane", ""))
        try:
            for p in body.get("payments", []):
                tender, ref = str(p.get("tender")), p.get("ref")
                if tender in LOYALTY_TENDERS:
                    continue
                known = self.store.get(str(ref)) if ref else None
                if known is None and (tender == "cash" or tender in self.external_tenders):
                    continue  # no gateway payment, and none needed
                if not ref:
                    raise ClaimRefused(f"a {tender} tender must name the payment taken for it "
                                       "(ref = the payment's key)")  # fmt: skip
                self.store.claim(str(ref), sale_id, tender=tender, amount_fen=p["amount_fen"])
        except ClaimRefused as err:
            log.warning("lane %s: sale refused: %s", lane, err)
            self.ctx.lanes.publish(lane, {"type": "sale.refused", "reason": str(err)})
            raise Refused(str(err)) from None

    # --- running attempts ----------------------------------------------------------------------
    def _notify(self, attempt: Attempt, text: str | None) -> None:
        if attempt.lane:
            event = {"type": "payment", "key": attempt.key, "state": attempt.state,
                     "reason": attempt.reason}  # fmt: skip
            if text:
                event["text"] = text
            self.ctx.lanes.publish(attempt.lane, event)

    def _spawn(self, attempt: Attempt, coro: Any) -> asyncio.Task[Attempt]:
        task = asyncio.create_task(coro, name=f"payment:{attempt.key}")
        self._running[attempt.key] = task

        def done(t: asyncio.Task[Attempt]) -> None:
            self._running.pop(attempt.key, None)
            self._cancel.pop(attempt.key, None)
            if not t.cancelled() and t.exception() is not None:
                log.error("payment %s failed: %r", attempt.key, t.exception())

        task.add_done_callback(done)
        return task

    def _device(self, attempt: Attempt) -> Device | None:
        return self.devices.by_id.get(attempt.device or "")

    async def _run(self, attempt: Attempt, auth_code: str | None) -> Attempt:
        device = self._device(attempt)
        cancel = self._cancel.setdefault(attempt.key, asyncio.Event())
        if of_driver(device, AGGREGATOR):
            result = await _flows().run_qr(self.store, device, attempt, auth_code=auth_code,
                                        cancel=cancel, notify=self._notify)  # fmt: skip
        elif of_driver(device, TERMINAL):
            result = await _flows().run_card(self.store, device, attempt, cancel=cancel,
                                          notify=self._notify)  # fmt: skip
        else:
            result = self.store.set_state(attempt.key, "declined", "no payment device")
        self._notify(result, None)
        return result

    async def _resume(self, attempt: Attempt) -> Attempt:
        device = self._device(attempt)
        try:
            if of_driver(device, AGGREGATOR):
                if attempt.state == "approved":
                    result = await _flows().reverse_qr(self.store, device, attempt,
                                                       "no sale took it")  # fmt: skip
                else:
                    result = await _flows().run_qr(self.store, device, attempt, resume=True,
                                                notify=self._notify)  # fmt: skip
            elif of_driver(device, TERMINAL):
                if attempt.state == "reversing" or attempt.state == "approved":
                    result = await _flows().reverse_card(self.store, device, attempt,
                                                      attempt.reason or "reversing")  # fmt: skip
                else:
                    result = await _flows().resolve_card(self.store, device, attempt)
            else:
                log.error("payment %s: device %s is gone; left %s",
                          attempt.key, attempt.device, attempt.state)  # fmt: skip
                return attempt
        except (DeviceError, OSError) as err:  # TerminalUnreachable is a DeviceError
            log.warning("payment %s: cannot resolve now (%s); retrying later", attempt.key, err)
            return self.store.get(attempt.key) or attempt
        self._notify(result, None)
        return result

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.resolve_interval_s)
            try:
                self.sweep()
            except Exception:
                log.exception("payment sweep failed")

    def sweep(self) -> None:
        """Resolve open attempts nobody is running; reverse approved ones no sale took up,
        claiming each first (approved → reversing in one UPDATE) so no lane can book a payment
        that is being given back."""
        for attempt in self.store.open():
            if (
                attempt.key not in self._running
                and attempt.state in OPEN
                and not attempt.waits_for_a_person
            ):
                self._spawn(attempt, self._resume(attempt))
        for attempt in self.store.unclaimed(self.unclaimed_reverse_after_s):
            if attempt.key in self._running:
                continue
            taken = self.store.take_for_reversal(attempt.key, "no sale took it")
            if taken is not None:
                log.warning("payment %s approved but no sale took it: reversing", attempt.key)
                self._spawn(taken, self._reverse(taken, "no sale took it"))

    async def _reverse(self, attempt: Attempt, reason: str) -> Attempt:
        """Give back a payment already claimed for reversal (state `reversing`)."""
        device = self._device(attempt)
        try:
            if of_driver(device, AGGREGATOR):
                result = await _flows().reverse_qr(self.store, device, attempt, reason)
            elif of_driver(device, TERMINAL):
                result = await _flows().reverse_card(self.store, device, attempt, reason)
            else:
                log.error("payment %s: device %s is gone; left reversing", attempt.key,
                          attempt.device)  # fmt: skip
                return attempt
        except (DeviceError, OSError) as err:  # TerminalUnreachable is a DeviceError
            log.warning("payment %s: cannot reverse now (%s); retrying later", attempt.key, err)
            return self.store.get(attempt.key) or attempt
        self._notify(result, None)
        return result

    async def wait(self, key: str, timeout: float) -> Attempt | None:
        task = self._running.get(key)
        if task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
        return self.store.get(key)

    # --- what the lane calls -------------------------------------------------------------------
    def _pick(self, lane: str, kind: str, wanted: str | None) -> Device:
        if wanted:
            device = self.devices.by_id.get(wanted)
            if device is None or device.kind != kind:
                raise DeviceError(f"no {kind} {wanted!r}")
            return device
        found = self.devices.on_lane(lane, kind) or [
            d for d in self.devices.by_id.values() if d.kind == kind and d.spec.lane is None
        ]
        if not found:
            raise DeviceError(f"lane {lane} has no {kind}")
        return found[0]

    async def pay(self, lane: str, body: dict[str, Any]) -> tuple[Attempt, bool]:
        """Start (or join) the attempt the body describes: (attempt, created)."""
        key, method, amount = body.get("key"), body.get("method"), body.get("amount_fen")
        if not isinstance(key, str) or not 8 <= len(key) <= 64:
            raise ValueError("'key' (the idempotency key, 8-64 characters) is required")
        if type(amount) is not int or amount <= 0:
            raise ValueError("'amount_fen' must be a positive integer")
        if method == "cash":
            return self._cash(lane, key, amount, body)
        if method == "card":
            device = self._pick(lane, "terminal", body.get("device"))
            stored_method, auth = "card", None
        elif method in QR_METHODS:
            auth = body.get("auth_code")
            if not isinstance(auth, str) or not _qrpay().valid_auth_code(auth):
                raise ValueError("'auth_code' must be the 16-24 digits of the customer's code")
            device = self._pick(lane, "aggregator", body.get("device"))
            stored_method = "qr"
        else:
            raise ValueError("'method' must be card, qr, wechat, alipay, unionpay or cash")
        attempt, created = self.store.create(
            key, lane=lane, method=stored_method, device=device.spec.id, amount_fen=amount,
            auth_code=auth, detail={"subject": str(body.get("subject", ""))},
        )  # fmt: skip
        if created:
            self._notify(attempt, None)
            self._spawn(attempt, self._run(attempt, auth))
        return attempt, created

    def _cash(self, lane: str, key: str, amount: int, body: dict[str, Any]) -> tuple[Attempt, bool]:
        tendered = body.get("tendered_fen", amount)
        t = cash.tender(amount, tendered, self.cash_rounding)  # type: ignore[arg-type]
        detail = {"tendered_fen": t.tendered_fen, "taken_fen": t.taken_fen,
                  "change_fen": t.change_fen, "rounding_fen": t.rounding_fen,
                  "remaining_fen": t.remaining_fen, "rule": self.cash_rounding}  # fmt: skip
        return self.store.create(
            key, lane=lane, method="cash", device=None, amount_fen=amount, state="approved",
            detail=detail,
        )  # fmt: skip

    def cancel(self, key: str) -> bool:
        event = self._cancel.get(key)
        if event is None:
            return False
        event.set()
        return True

    async def reverse(self, key: str, reason: str) -> Attempt:
        attempt = self.store.get(key)
        if attempt is None:
            raise KeyError(key)
        device = self._device(attempt)
        if attempt.method != "cash" and not (
            of_driver(device, AGGREGATOR) or of_driver(device, TERMINAL)
        ):
            raise ValueError(f"device {attempt.device} is gone")
        taken = self.store.take_for_reversal(key, reason)  # the claim: no sale can take it now
        if taken is None:
            attempt = self.store.get(key) or attempt
            raise ValueError(f"only an approved payment no sale has taken can be reversed "
                             f"(this one is {attempt.state}, sale {attempt.sale_id})")  # fmt: skip
        if taken.method == "cash":
            return self.store.set_state(key, "reversed", reason)
        return await asyncio.shield(self._spawn(taken, self._reverse(taken, reason)))

    def settle_by_cashier(self, key: str, approved: bool, receipt_no: int | None) -> Attempt:
        """The cashier says what became of a card payment the terminal could not tell about
        (they read the terminal's own journal or slip)."""
        attempt = self.store.get(key)
        if attempt is None:
            raise KeyError(key)
        if not attempt.ask_cashier:
            raise ValueError(f"payment {key} is {attempt.state} and needs no cashier")
        if not approved:
            return self.store.set_state(key, "declined", "the cashier: the card was not charged")
        assert receipt_no is not None
        txns = self.store.card_txns(attempt.device or "")
        if any(t.receipt_no == receipt_no for t in txns) or self.store.ref_taken(
            str(receipt_no), "card", key
        ):
            raise ValueError(f"receipt {receipt_no} is already accounted for by the gateway")
        rows = [t for t in txns if t.key == key and t.kind == "payment"]
        if rows:
            self.store.card_answered(rows[-1].id, "approved", receipt_no)
        return self.store.set_state(key, "approved", "confirmed by the cashier",
                                    provider_ref=str(receipt_no))  # fmt: skip

    # --- HTTP ---------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/lanes/{lane}/payments", self._post),
            web.get("/api/lanes/{lane}/payments", self._list),
            web.get("/api/payments/{key}", self._get),
            web.post("/api/payments/{key}/cancel", self._cancel_route),
            web.post("/api/payments/{key}/reverse", self._reverse_route),
            web.post("/api/payments/{key}/resolve", self._resolve_route),
        ]

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        return await http_errors.read_object(request, empty={})

    @staticmethod
    def _wait_s(request: web.Request, body: dict[str, Any], default: float) -> float:
        try:
            return max(
                0.0, min(float(body.get("wait_s", request.query.get("wait_s", default))), 180)
            )
        except (TypeError, ValueError):
            return default

    async def _post(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        try:
            body = await self._json(request)
            if "key" not in body and request.headers.get("Idempotency-Key"):
                body["key"] = request.headers["Idempotency-Key"]
            attempt, created = await self.pay(lane, body)
        except AttemptConflict as err:
            log.warning("lane %s: payment refused: %s", lane, err)
            return _error(409, str(err))
        except (ValueError, cash.CashError) as err:
            log.warning("lane %s: payment refused: %s", lane, err)
            return _error(400, str(err))
        except DeviceError as err:
            log.warning("lane %s: payment refused: %s", lane, err)
            return _error(409, str(err))
        got = await self.wait(attempt.key, self._wait_s(request, body, 60.0)) or attempt
        status = (201 if created else 200) if got.final else 202
        return web.json_response({"payment": got.public(), "created": created}, status=status)

    async def _get(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        got = await self.wait(key, self._wait_s(request, {}, 0.0))
        if got is None:
            return _error(404, f"no payment {key}")
        return web.json_response({"payment": got.public(), "history": self.store.history(key)})

    async def _list(self, request: web.Request) -> web.Response:
        lane, state = request.match_info["lane"], request.query.get("state")
        attempts = self.store.on_lane(lane, state)
        if request.query.get("unclaimed"):
            attempts = [a for a in attempts if a.state == "approved" and not a.sale_id]
        return web.json_response({"payments": [a.public() for a in attempts]})

    async def _cancel_route(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if self.store.get(key) is None:
            return _error(404, f"no payment {key}")
        if not self.cancel(key):
            return _error(409, "the payment is not running")
        got = await self.wait(key, 30.0)
        assert got is not None
        return web.json_response({"payment": got.public()})

    async def _reverse_route(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            body = await self._json(request)
            got = await self.reverse(key, str(body.get("reason", "reversed by the cashier")))
        except KeyError:
            return _error(404, f"no payment {key}")
        except ValueError as err:
            return _error(409, str(err))
        return web.json_response({"payment": got.public()})

    async def _resolve_route(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            body = await self._json(request)
            approved, receipt = body.get("approved"), body.get("receipt_no")
            if not isinstance(approved, bool):
                raise ValueError("'approved' (true or false) is required")
            if approved and (type(receipt) is not int or receipt <= 0):
                raise ValueError("'receipt_no' (the terminal slip's receipt number) is required")
        except ValueError as err:
            log.warning("payment %s: bad resolution: %s", key, err)
            return _error(400, str(err))
        try:
            got = self.settle_by_cashier(key, approved, receipt)
        except KeyError:
            return _error(404, f"no payment {key}")
        except ValueError as err:
            log.warning("payment %s: cashier's resolution refused: %s", key, err)
            return _error(409, str(err))
        self._notify(got, None)
        return web.json_response({"payment": got.public()})


async def test_payment(device: Device, params: dict[str, Any]) -> dict[str, Any]:
    """The `test-payment` action of a terminal or an aggregator: a real attempt (journaled like
    any other, marked test) of `amount_fen` (default 1 fen), reversed at once if approved."""
    if device.ctx.db is None:
        raise DeviceError("no gateway database")
    store = AttemptStore(device.ctx.db)
    key = str(params.get("key") or f"test-{uuid.uuid4().hex[:16]}")
    amount = params.get("amount_fen", 1)
    if type(amount) is not int or amount <= 0:
        raise DeviceError("amount_fen must be a positive integer")
    if of_driver(device, AGGREGATOR):
        auth = params.get("auth_code")
        if not isinstance(auth, str) or not _qrpay().valid_auth_code(auth):
            raise DeviceError("a QR test payment needs the auth_code of a test wallet")
        attempt, _ = store.create(key, lane=device.spec.lane, method="qr", device=device.spec.id,
                                  amount_fen=amount, auth_code=auth, test=True)  # fmt: skip
        result = await _flows().run_qr(store, device, attempt, auth_code=auth)
        if result.state == "approved":
            result = await _flows().reverse_qr(store, device, result, "test payment")
    elif of_driver(device, TERMINAL):
        attempt, _ = store.create(key, lane=device.spec.lane, method="card",
                                  device=device.spec.id, amount_fen=amount, test=True)  # fmt: skip
        result = await _flows().run_card(store, device, attempt)
        if result.state == "approved":
            result = await _flows().reverse_card(store, device, result, "test payment")
    else:
        raise DeviceError(f"{device.kind} cannot take a test payment")
    return {"payment": result.public(), "history": store.history(key)}
