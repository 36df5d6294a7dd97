"""QR-code payment through the store's aggregator (聚合扫码支付): the customer shows a payment
code, the cashier scans it, the gateway asks the aggregator to take the money.

Pure code: the order and its split settlement (分账), request bodies and their signature,
replies, and `QrFlow`, the decision logic as a state machine:

    pay ─ SUCCESS ─────────────────────────────────────────► approved
        ─ definite failure (insufficient funds, bad code) ─► declined
        ─ USERPAYING (customer confirming) ─► query every few seconds, up to a limit
        ─ no answer / unknown ──────────────► query
    query ─ SUCCESS ► approved;  USERPAYING ► query again or, at the limit, reverse
          ─ NOTPAY / NOT_FOUND ► reverse (closes the order: a late confirm cannot take money)
          ─ CLOSED / REVOKED / PAYERROR ► declined;  no answer ► query again, then reverse
    reverse ─ SUCCESS ► reversed;  recall / no answer ► reverse again, up to a limit ► unknown

The state a step names is written to the journal before its request goes out."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal[
    "started", "awaiting_customer", "approved", "declined", "reversing", "reversed", "unknown"
]
FINAL: frozenset[str] = frozenset({"approved", "declined", "reversed"})
# pay result codes after which no money moved and none can: the order is simply done
DEFINITE_FAILURES = frozenset(
    {"NOTENOUGH", "AUTHCODEEXPIRE", "AUTH_CODE_INVALID", "PAYER_ACCOUNT_ABNORMAL", "ORDERCLOSED"}
)


class QrPayError(ValueError):
    """A reply or an order that does not make sense."""


# --- orders ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """分账: the store's sub-merchant keeps its part, HQ takes `hq_share_bp` basis points."""

    store_sub_merchant_id: str
    hq_merchant_id: str
    hq_share_bp: int  # 1 bp = 0.01 %; 500 = 5 %

    def amounts(self, total_fen: int) -> tuple[int, int]:
        """(store_fen, hq_fen): HQ's share rounded half up to the fen, the store gets the rest,
        so the parts always add up to the total."""
        if not 0 <= self.hq_share_bp <= 10_000:
            raise QrPayError(f"HQ share {self.hq_share_bp} bp outside 0..10000")
        hq = (total_fen * self.hq_share_bp + 5_000) // 10_000
        return total_fen - hq, hq


@dataclass(frozen=True)
class Order:
    out_trade_no: str  # the attempt's idempotency key
    auth_code: str
    total_fen: int
    merchant_id: str
    sub_merchant_id: str
    store_id: str = ""
    subject: str = ""
    split: Split | None = None

    def pay_body(self) -> dict[str, Any]:
        if type(self.total_fen) is not int or self.total_fen <= 0:
            raise QrPayError("a payment needs a positive amount in integer fen")
        body: dict[str, Any] = {
            "merchant_id": self.merchant_id,
            "sub_merchant_id": self.sub_merchant_id,
            "out_trade_no": self.out_trade_no,
            "auth_code": self.auth_code,
            "total_fen": self.total_fen,
            "currency": "CNY",
            "store_id": self.store_id,
            "subject": self.subject,
        }
        if self.split:
            store_fen, hq_fen = self.split.amounts(self.total_fen)
            body["profit_sharing"] = {
                "receivers": [
                    {"role": "store", "sub_merchant_id": self.split.store_sub_merchant_id,
                     "amount_fen": store_fen},
                    {"role": "hq", "merchant_id": self.split.hq_merchant_id,
                     "amount_fen": hq_fen},
                ]
            }  # fmt: skip
        return body


def trade_body(out_trade_no: str, merchant_id: str, sub_merchant_id: str) -> dict[str, Any]:
    """Body of query and reverse: the order is named by our key only."""
    return {
        "merchant_id": merchant_id,
        "sub_merchant_id": sub_merchant_id,
        "out_trade_no": out_trade_no,
    }


def channel_of(auth_code: str) -> str:
    """WeChat codes: 18 digits from 10-15; Alipay: 16-24 digits from 25-30; else UnionPay."""
    if auth_code.isdigit():
        if len(auth_code) == 18 and 10 <= int(auth_code[:2]) <= 15:
            return "wechat"
        if 16 <= len(auth_code) <= 24 and 25 <= int(auth_code[:2]) <= 30:
            return "alipay"
        if auth_code.startswith("62"):
            return "unionpay"
    return "other"


def valid_auth_code(auth_code: str) -> bool:
    return auth_code.isdigit() and 16 <= len(auth_code) <= 24


# --- signatures --------------------------------------------------------------------------
def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(
        {k: v for k, v in body.items() if k != "sign"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")


def sign(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The body with its HMAC-SHA256 signature (hex) under `sign`."""
    mac = hmac.new(key.encode("utf-8"), canonical(body), hashlib.sha256).hexdigest()
    return {**body, "sign": mac}


def verify(body: dict[str, Any], key: str) -> bool:
    try:
        text = canonical(body)
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON): no valid signature
        return False
    mac = hmac.new(key.encode("utf-8"), text, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, str(body.get("sign", "")))


# --- replies -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """One aggregator answer, read leniently: what cannot be read is `unknown`."""

    # pay: success|paying|failed|unknown; query: the trade_state; reverse: success|recall|
    # failed|unknown
    outcome: str
    code: str = ""
    message: str = ""
    transaction_id: str = ""
    channel: str = ""
    paid_fen: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None)}


def _common(raw: dict[str, Any]) -> dict[str, Any]:
    paid = raw.get("paid_fen")
    return {
        "code": str(raw.get("code", "")),
        "message": str(raw.get("message", "")),
        "transaction_id": str(raw.get("transaction_id", "")),
        "channel": str(raw.get("channel", "")),
        "paid_fen": paid if type(paid) is int else None,
    }


def pay_reply(raw: Any) -> Reply:
    if not isinstance(raw, dict):
        return Reply("unknown", message="reply is not a JSON object")
    result, code = raw.get("result"), str(raw.get("code", ""))
    if result == "SUCCESS":
        return Reply("success", **_common(raw))
    if result == "USERPAYING" or code == "USERPAYING":
        return Reply("paying", **_common(raw))
    if result == "FAIL" and code in DEFINITE_FAILURES:
        return Reply("failed", **_common(raw))
    return Reply("unknown", **_common(raw))  # SYSTEMERROR, BANKERROR, anything new


QUERY_STATES = frozenset(
    {"SUCCESS", "USERPAYING", "NOTPAY", "NOT_FOUND", "CLOSED", "REVOKED", "PAYERROR"}
)


def query_reply(raw: Any) -> Reply:
    if not isinstance(raw, dict) or raw.get("trade_state") not in QUERY_STATES:
        return Reply("unknown", message="unreadable query reply")
    return Reply(str(raw["trade_state"]), **_common(raw))


def reverse_reply(raw: Any) -> Reply:
    if not isinstance(raw, dict):
        return Reply("unknown", message="reply is not a JSON object")
    if raw.get("result") == "SUCCESS":
        return Reply("success", **_common(raw))
    if raw.get("recall") is True:
        return Reply("recall", **_common(raw))
    if raw.get("result") == "FAIL":
        return Reply("failed", **_common(raw))
    return Reply("unknown", **_common(raw))


# --- the decision logic ------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    query_interval_s: float = 5.0
    query_limit: int = 6  # ~30 s of the customer confirming, then reverse
    reverse_interval_s: float = 2.0
    reverse_limit: int = 5


@dataclass(frozen=True)
class Step:
    action: Literal["pay", "query", "reverse", "done"]
    delay_s: float = 0.0


@dataclass
class QrFlow:
    policy: Policy = field(default_factory=Policy)
    state: State = "started"
    queries: int = 0
    reversals: int = 0
    reply: Reply | None = None  # the last reply that decided something
    reason: str = ""

    def first(self) -> Step:
        """Where a new attempt starts (pay) or an interrupted one resumes (query / reverse)."""
        if self.state in FINAL:
            return Step("done")
        if self.state == "reversing":
            return Step("reverse")
        if self.state == "started" and self.queries == 0 and self.reply is None:
            return Step("pay")
        return Step("query")

    @classmethod
    def resume(cls, state: State, policy: Policy) -> QrFlow:
        """After a restart nothing is known of what the aggregator did: ask first."""
        flow = cls(policy, state="reversing" if state == "reversing" else "unknown")
        return flow

    def cancel(self) -> Step:
        """The cashier gives up while the customer is confirming: close the order."""
        if self.state in FINAL:
            return Step("done")
        self.state, self.reason = "reversing", "cancelled by the cashier"
        return Step("reverse")

    def _query_again(self) -> Step:
        if self.queries < self.policy.query_limit:
            return Step("query", self.policy.query_interval_s)
        self.state = "reversing"
        self.reason = self.reason or "customer did not confirm in time"
        return Step("reverse")

    def on_pay(self, reply: Reply | None) -> Step:
        self.reply = reply
        if reply is None or reply.outcome == "unknown":
            self.state = "unknown"
            self.reason = "no answer to pay" if reply is None else (reply.message or reply.code)
            return Step("query", min(1.0, self.policy.query_interval_s))
        if reply.outcome == "success":
            self.state = "approved"
            return Step("done")
        if reply.outcome == "failed":
            self.state, self.reason = "declined", reply.message or reply.code
            return Step("done")
        self.state = "awaiting_customer"
        return Step("query", self.policy.query_interval_s)

    def on_query(self, reply: Reply | None) -> Step:
        self.queries += 1
        if reply is None or reply.outcome == "unknown":
            return self._query_again()
        self.reply = reply
        if reply.outcome == "SUCCESS":
            self.state = "approved"
            return Step("done")
        if reply.outcome == "USERPAYING":
            if self.state != "unknown":
                self.state = "awaiting_customer"
            return self._query_again()
        if reply.outcome in ("CLOSED", "REVOKED", "PAYERROR"):
            self.state, self.reason = "declined", reply.message or reply.outcome
            return Step("done")
        # NOTPAY / NOT_FOUND: nothing taken yet; close it so nothing can be
        self.state, self.reason = "reversing", reply.message or reply.outcome
        return Step("reverse")

    def on_reverse(self, reply: Reply | None) -> Step:
        self.reversals += 1
        self.state = "reversing"
        if reply is not None and reply.outcome == "success":
            self.state = "reversed"
            return Step("done")
        if reply is not None and reply.outcome == "failed":
            self.state, self.reply = "unknown", reply
            self.reason = f"reversal refused: {reply.message or reply.code}"
            return Step("done")
        if self.reversals < self.policy.reverse_limit:
            return Step("reverse", self.policy.reverse_interval_s)
        self.state, self.reason = "unknown", "reversal still unconfirmed"
        return Step("done")
