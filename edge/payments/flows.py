"""How one attempt runs against its device, writing each state before the request it leads
to. The same functions run a new payment and resume an interrupted one.

QR: protocols/qrpay.QrFlow decides; card (ZVT): authorise; a lost answer (no completion,
dropped connection, a gateway restart) is resolved by asking the terminal for its last
transaction (06 20): ours and approved → approved, otherwise declined. Approved payments that
no sale takes up are reversed later by the service's sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from edge.devices.aggregator import Aggregator, AggregatorUnreachable
from edge.devices.terminal import Exchange, Terminal, TerminalUnreachable
from edge.payments.attempts import Attempt, AttemptStore
from protocols import qrpay
from protocols.zvt import commands as zc

log = logging.getLogger(__name__)

Notify = Callable[[Attempt, str | None], None]  # (attempt after a change, a text for the lane)


async def _sleep_or_cancel(delay: float, cancel: asyncio.Event | None) -> bool:
    """Wait `delay`; True when cancelled meanwhile."""
    if cancel is None:
        await asyncio.sleep(delay)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(cancel.wait(), delay)
    return cancel.is_set()


# --- QR ------------------------------------------------------------------------------------------
async def run_qr(
    store: AttemptStore,
    agg: Aggregator,
    attempt: Attempt,
    *,
    auth_code: str | None = None,
    cancel: asyncio.Event | None = None,
    notify: Notify | None = None,
    resume: bool = False,
) -> Attempt:
    key = attempt.key
    flow = (
        qrpay.QrFlow.resume(attempt.state, agg.policy)  # type: ignore[arg-type]
        if resume
        else qrpay.QrFlow(agg.policy)
    )
    step = flow.first()
    if step.action == "pay" and not auth_code:
        raise ValueError("a new QR payment needs the customer's payment code")
    cancelled = False
    while step.action != "done":
        if step.delay_s and await _sleep_or_cancel(step.delay_s, cancel) and not cancelled:
            cancelled, step = True, flow.cancel()
            continue
        if cancel is not None and cancel.is_set() and not cancelled and step.action != "pay":
            cancelled, step = True, flow.cancel()
        # the state this request belongs to is durable before the request leaves
        attempt = store.set_state(key, flow.state, flow.reason or None)
        if notify:
            notify(attempt, None)
        try:
            if step.action == "pay":
                assert auth_code
                order = agg.order(
                    key, auth_code, attempt.amount_fen, attempt.detail.get("subject", "")
                )
                step = flow.on_pay(await agg.pay(order))
            elif step.action == "query":
                step = flow.on_query(await agg.query(key))
            else:
                step = flow.on_reverse(await agg.reverse(key))
        except AggregatorUnreachable as err:
            if step.action == "pay":  # nothing left the gateway: nothing was taken
                flow.state, flow.reason = "declined", str(err)
                break
            step = {"query": flow.on_query, "reverse": flow.on_reverse}[step.action](None)
    reply = flow.reply.as_dict() if flow.reply else {}
    if (
        flow.state == "approved"
        and flow.reply
        and flow.reply.paid_fen not in (None, attempt.amount_fen)
    ):
        flow.reason = f"aggregator says {flow.reply.paid_fen} fen were paid"  # partial: shown
    attempt = store.set_state(
        key, flow.state, flow.reason or None,
        provider_ref=(flow.reply.transaction_id or None) if flow.reply else None,
        detail={"aggregator": reply, "channel": (flow.reply.channel if flow.reply else "")
                or (qrpay.channel_of(auth_code) if auth_code else "")},
    )  # fmt: skip
    if notify:
        notify(attempt, None)
    return attempt


async def reverse_qr(
    store: AttemptStore, agg: Aggregator, attempt: Attempt, reason: str
) -> Attempt:
    flow = qrpay.QrFlow(agg.policy, state="reversing", reason=reason)
    step = qrpay.Step("reverse")
    while step.action != "done":
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        store.set_state(attempt.key, "reversing", reason)
        try:
            reply = await agg.reverse(attempt.key)
        except AggregatorUnreachable:
            reply = None
        step = flow.on_reverse(reply)
    return store.set_state(attempt.key, flow.state, flow.reason or reason)


# --- card (ZVT) ---------------------------------------------------------------------------
def _card_detail(info: zc.StatusInfo | None) -> dict[str, Any]:
    if info is None:
        return {}
    return {"terminal": {"receipt_no": info.receipt_no, "trace": info.trace,
                         "terminal_id": info.terminal_id, "card": info.card_name,
                         "pan": info.pan, "result": info.result}}  # fmt: skip


async def run_card(
    store: AttemptStore,
    term: Terminal,
    attempt: Attempt,
    *,
    cancel: asyncio.Event | None = None,
    notify: Notify | None = None,
) -> Attempt:
    key = attempt.key

    def text(t: str) -> None:
        if notify:
            notify(attempt, t)

    try:
        ex = await term.authorise(attempt.amount_fen, on_text=text, cancel=cancel)
    except TerminalUnreachable as err:
        return store.set_state(key, "declined", str(err))
    if ex.outcome == "completed" and ex.info is not None and ex.info.approved:
        return _approved(store, key, ex)
    if ex.outcome in ("aborted", "nacked"):
        reason = "cancelled" if cancel is not None and cancel.is_set() else ex.reason
        return store.set_state(key, "declined", reason, detail=_card_detail(ex.info))
    # no completion, or a completion without an approval: ask the terminal what happened
    attempt = store.set_state(key, "unknown", "terminal answer lost", detail=_card_detail(ex.info))
    if notify:
        notify(attempt, None)
    return await resolve_card(store, term, attempt)


def _approved(store: AttemptStore, key: str, ex: Exchange) -> Attempt:
    info = ex.info
    assert info is not None
    return store.set_state(
        key, "approved", None,
        provider_ref=str(info.receipt_no) if info.receipt_no is not None else None,
        detail=_card_detail(info),
    )  # fmt: skip


async def resolve_card(store: AttemptStore, term: Terminal, attempt: Attempt) -> Attempt:
    """An attempt in `unknown` (or `started` after a restart): the terminal's last transaction
    tells. Raises TerminalUnreachable (state stays unknown) when it cannot be asked now."""
    key = attempt.key
    if attempt.state != "unknown":
        attempt = store.set_state(key, "unknown", "resuming after a restart")
    ex = await term.last()
    info = ex.info
    if info is not None and ex.outcome in ("completed", "lost"):
        ours = (
            info.approved
            and info.amount_fen == attempt.amount_fen
            and info.receipt_no is not None
            and not store.ref_taken(str(info.receipt_no), "card", attempt.key)
        )
        if ours:
            return _approved(store, key, ex)
        return store.set_state(key, "declined", "the terminal has no approval for this payment")
    if ex.outcome == "aborted":  # the terminal has no transaction at all
        return store.set_state(key, "declined", "the terminal has no transaction")
    return store.set_state(key, "unknown", f"terminal did not say: {ex.reason}")


async def reverse_card(
    store: AttemptStore, term: Terminal, attempt: Attempt, reason: str
) -> Attempt:
    if not attempt.provider_ref:
        return store.set_state(attempt.key, "unknown", "no terminal receipt number to reverse")
    store.set_state(attempt.key, "reversing", reason)
    try:
        ex = await term.reverse(int(attempt.provider_ref))
    except TerminalUnreachable as err:
        return store.set_state(attempt.key, "reversing", f"{reason}; {err}")
    if ex.outcome == "completed" or (ex.outcome == "aborted" and ex.code == 0xB4):
        return store.set_state(attempt.key, "reversed", reason)
    if ex.outcome == "aborted":
        return store.set_state(attempt.key, "unknown", f"reversal refused: {ex.reason}")
    return store.set_state(attempt.key, "reversing", f"{reason}; reversal answer lost")
