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
from typing import TYPE_CHECKING, Any

from edge.payments.attempts import Attempt, AttemptStore, CardTxn
from protocols import qrpay
from protocols.zvt import commands as zc

if TYPE_CHECKING:  # the drivers: loaded with the first device of their kind (edge/gateway.py)
    from edge.devices.aggregator import Aggregator
    from edge.devices.terminal import Exchange, Terminal

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
    from edge.devices.aggregator import AggregatorUnreachable  # loaded: agg is one

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
        if step.delay_s:
            if cancelled:  # the cancel is handled: later steps keep their back-off
                await asyncio.sleep(step.delay_s)
            elif await _sleep_or_cancel(step.delay_s, cancel):
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
    from edge.devices.aggregator import AggregatorUnreachable  # loaded: agg is one

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
    from edge.devices.terminal import TerminalUnreachable  # loaded: term is one

    key = attempt.key

    def text(t: str) -> None:
        if notify:
            notify(attempt, t)

    row = store.card_sent(term.spec.id, key, "payment", attempt.amount_fen)
    try:
        ex = await term.authorise(attempt.amount_fen, on_text=text, cancel=cancel)
    except TerminalUnreachable as err:
        store.card_answered(row, "declined")
        return store.set_state(key, "declined", str(err))
    if ex.outcome == "completed" and ex.info is not None and ex.info.approved:
        store.card_answered(row, "approved", ex.info.receipt_no, ex.info.trace)
        return _approved(store, key, ex)
    if ex.outcome in ("aborted", "nacked"):
        store.card_answered(row, "declined")
        reason = "cancelled" if cancel is not None and cancel.is_set() else ex.reason
        return store.set_state(key, "declined", reason, detail=_card_detail(ex.info))
    # no completion, or a completion without an approval: ask the terminal what happened
    store.card_answered(row, "lost")
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


def judge_last(
    txns: list[CardTxn], key: str, amount_fen: int, last: zc.StatusInfo
) -> tuple[str, str]:
    """What the terminal's last transaction says about the payment `key` whose answer was
    lost: ("approved" | "declined" | "ask", why). ZVT's status information names no
    transaction type and the ECR cannot query by its own id, so the gateway's own record of
    every request it sent (card_transactions, payments and reversals, in sending order) is what
    tells a new approval from one of its own reversals or payments."""
    mine = [t for t in txns if t.key == key and t.kind == "payment"]
    if not mine:
        return "declined", "the request never left the gateway"
    me = mine[-1]
    receipt = last.receipt_no
    if receipt is None:
        return "ask", "the terminal's last transaction has no receipt number"
    known = next((t for t in reversed(txns) if t.receipt_no == receipt), None)
    if known is not None:
        if known.key == key and known.kind == "payment" and last.approved:
            return "approved", f"receipt {receipt}"
        if known.id < me.id:
            return "declined", (
                f"the terminal's last transaction is receipt {receipt}, the gateway's own "
                f"{known.kind} from before this payment: this payment never reached it"
            )
        return "ask", f"receipt {receipt} is the gateway's {known.kind} for {known.key}"

    def superseded(t: CardTxn) -> bool:  # a later request got a receipt: t was before it
        return any(u.id > t.id and u.receipt_no is not None for u in txns)

    if superseded(me):
        return "ask", "the terminal has made other transactions since"
    doubtful = [t for t in txns if t.id != me.id and t.in_doubt and not superseded(t)]
    if any(t.amount_fen == amount_fen for t in doubtful):
        t = next(t for t in doubtful if t.amount_fen == amount_fen)
        return "ask", f"the gateway's {t.kind} for {t.key} of the same amount is unaccounted"
    if last.amount_fen != amount_fen:
        return "ask", f"the terminal's last transaction is {last.amount_fen} fen, not ours"
    if last.approved:
        return "approved", f"receipt {receipt}"
    return "declined", f"the terminal declined it ({zc.result_text(last.result)})"


async def resolve_card(store: AttemptStore, term: Terminal, attempt: Attempt) -> Attempt:
    """An attempt in `unknown` (or `started` after a restart): the terminal's last transaction
    tells, if judge_last can be sure; otherwise the attempt stays `unknown` with `ask_cashier`
    and is left for the cashier (POST /api/payments/{key}/resolve). Raises TerminalUnreachable
    (state stays unknown) when the terminal cannot be asked now."""
    key = attempt.key
    if attempt.state != "unknown":
        attempt = store.set_state(key, "unknown", "resuming after a restart")
    ex = await term.last()
    info = ex.info
    txns = store.card_txns(term.spec.id)
    rows = [t for t in txns if t.key == key and t.kind == "payment"]
    if info is not None and ex.outcome in ("completed", "lost"):
        verdict, why = judge_last(txns, key, attempt.amount_fen, info)
        if verdict == "approved" and store.ref_taken(str(info.receipt_no), "card", key):
            verdict, why = "ask", f"receipt {info.receipt_no} belongs to another payment"
    elif ex.outcome == "aborted":  # the terminal has no transaction at all
        verdict, why = "declined", "the terminal has no transaction"
    else:
        return store.set_state(key, "unknown", f"terminal did not say: {ex.reason}")
    if verdict == "approved":
        assert info is not None
        if rows:
            store.card_answered(rows[-1].id, "approved", info.receipt_no, info.trace)
        return _approved(store, key, ex)
    if verdict == "declined":
        if rows:
            store.card_answered(rows[-1].id, "declined")
        return store.set_state(key, "declined", why)
    log.warning("payment %s: cannot tell from the terminal (%s): asking the cashier", key, why)
    return store.set_state(key, "unknown", f"ask the cashier: {why}", detail={"ask_cashier": why})


async def reverse_card(
    store: AttemptStore, term: Terminal, attempt: Attempt, reason: str
) -> Attempt:
    from edge.devices.terminal import TerminalUnreachable  # loaded: term is one

    if not attempt.provider_ref:
        return store.set_state(attempt.key, "unknown", "no terminal receipt number to reverse")
    receipt = int(attempt.provider_ref)
    store.set_state(attempt.key, "reversing", reason)
    row = store.card_sent(term.spec.id, attempt.key, "reversal", attempt.amount_fen, receipt)
    try:
        ex = await term.reverse(receipt)
    except TerminalUnreachable as err:
        store.card_answered(row, "declined")
        return store.set_state(attempt.key, "reversing", f"{reason}; {err}")
    if ex.outcome == "completed":
        info = ex.info
        if info is not None and info.receipt_no is not None:
            store.card_answered(row, "approved", info.receipt_no, info.trace)
        else:  # reversed, but under a receipt number the gateway does not know
            store.card_answered(row, "lost")
        return store.set_state(attempt.key, "reversed", reason,
                               detail={"reversal": _card_detail(info).get("terminal")})  # fmt: skip
    if ex.outcome == "aborted" and ex.code == 0xB4:  # already reversed (by a lost earlier try)
        store.card_answered(row, "declined")
        return store.set_state(attempt.key, "reversed", reason)
    if ex.outcome == "aborted":
        store.card_answered(row, "declined")
        return store.set_state(attempt.key, "unknown", f"reversal refused: {ex.reason}",
                               detail={"technician": f"reversal refused: {ex.reason}"})  # fmt: skip
    store.card_answered(row, "lost")
    return store.set_state(attempt.key, "reversing", f"{reason}; reversal answer lost")
