"""Pure payment rules: the QR flow's decisions, split settlement, signatures, cash rounding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.payments import cash
from protocols import qrpay

FAST = qrpay.Policy(query_interval_s=1, query_limit=3, reverse_interval_s=1, reverse_limit=2)


def R(outcome: str, **kw: object) -> qrpay.Reply:
    return qrpay.Reply(outcome, **kw)  # type: ignore[arg-type]


def test_pay_success() -> None:
    f = qrpay.QrFlow(FAST)
    assert f.first() == qrpay.Step("pay")
    assert f.on_pay(R("success")) == qrpay.Step("done") and f.state == "approved"


def test_customer_confirming_then_paid() -> None:
    f = qrpay.QrFlow(FAST)
    assert f.on_pay(R("paying")) == qrpay.Step("query", 1)
    assert f.state == "awaiting_customer"
    assert f.on_query(R("USERPAYING")).action == "query"
    assert f.on_query(R("SUCCESS")).action == "done" and f.state == "approved"


def test_customer_never_confirms_reverse_repeats_while_asked() -> None:
    f = qrpay.QrFlow(FAST)
    f.on_pay(R("paying"))
    for _ in range(2):
        assert f.on_query(R("USERPAYING")).action == "query"
    assert f.on_query(R("USERPAYING")) == qrpay.Step("reverse") and f.state == "reversing"
    assert f.on_reverse(R("recall")) == qrpay.Step("reverse", 1)
    assert f.on_reverse(R("success")).action == "done" and f.state == "reversed"


def test_definite_failure_and_lost_answers() -> None:
    f = qrpay.QrFlow(FAST)
    assert f.on_pay(qrpay.pay_reply({"result": "FAIL", "code": "NOTENOUGH"})).action == "done"
    assert f.state == "declined"
    g = qrpay.QrFlow(FAST)
    assert g.on_pay(None).action == "query" and g.state == "unknown"
    assert g.on_query(R("NOT_FOUND")) == qrpay.Step("reverse")
    assert g.on_reverse(None).action == "reverse"
    assert g.on_reverse(None) == qrpay.Step("done") and g.state == "unknown"  # alarm
    h = qrpay.QrFlow(FAST)
    h.on_pay(None)
    assert h.on_query(R("SUCCESS")).action == "done" and h.state == "approved"


def test_cancel_and_resume() -> None:
    f = qrpay.QrFlow(FAST)
    f.on_pay(R("paying"))
    assert f.cancel() == qrpay.Step("reverse") and "cashier" in f.reason
    r = qrpay.QrFlow.resume("started", FAST)
    assert r.first() == qrpay.Step("query")  # never pay again after a restart
    assert qrpay.QrFlow.resume("reversing", FAST).first() == qrpay.Step("reverse")
    refused = qrpay.QrFlow(FAST, state="reversing")
    refused.on_reverse(qrpay.reverse_reply({"result": "FAIL", "recall": False, "code": "X"}))
    assert refused.state == "unknown" and "refused" in refused.reason


def test_reply_parsing_is_lenient() -> None:
    assert qrpay.pay_reply("nonsense").outcome == "unknown"
    assert qrpay.pay_reply({"result": "FAIL", "code": "SYSTEMERROR"}).outcome == "unknown"
    assert qrpay.query_reply({"trade_state": "WHATEVER"}).outcome == "unknown"
    assert qrpay.reverse_reply({"result": "FAIL", "recall": True}).outcome == "recall"
    assert qrpay.pay_reply({"result": "SUCCESS", "paid_fen": 1.5}).paid_fen is None


@given(st.integers(1, 10**9), st.integers(0, 10_000))
def test_split_parts_add_up(total: int, bp: int) -> None:
    split = qrpay.Split("SUB1", "HQ", bp)
    store, hq = split.amounts(total)
    assert store + hq == total and store >= 0 and hq >= 0
    assert abs(hq * 10_000 - total * bp) <= 5_000


def test_order_carries_split_settlement() -> None:
    order = qrpay.Order("k-0001", "134567890123456789", 10_000, "M100", "SUB1",
                        split=qrpay.Split("SUB1", "HQ9", 500))  # fmt: skip
    body = order.pay_body()
    receivers = body["profit_sharing"]["receivers"]
    assert receivers == [
        {"role": "store", "sub_merchant_id": "SUB1", "amount_fen": 9_500},
        {"role": "hq", "merchant_id": "HQ9", "amount_fen": 500},
    ]
    with pytest.raises(qrpay.QrPayError):
        qrpay.Split("a", "b", 10_001).amounts(100)


def test_signature_and_channels() -> None:
    body = qrpay.sign({"a": 1, "名": "值"}, "k")
    assert qrpay.verify(body, "k") and not qrpay.verify(body, "other")
    assert not qrpay.verify({**body, "a": 2}, "k")
    assert qrpay.channel_of("134567890123456789") == "wechat"
    assert qrpay.channel_of("2812345678901234") == "alipay"
    assert qrpay.channel_of("6212345678901234567") == "unionpay"
    assert not qrpay.valid_auth_code("12ab")


@pytest.mark.parametrize(
    ("rule", "due", "tendered", "change", "rounding"),
    [
        ("none", 1237, 2000, 763, 0),
        ("jiao_down", 1237, 2000, 770, 7),
        ("yuan_down", 1299, 2000, 800, 99),
        ("jiao_down", 1230, 1230, 0, 0),
    ],
)
def test_cash_rounding(rule: str, due: int, tendered: int, change: int, rounding: int) -> None:
    t = cash.tender(due, tendered, rule)
    assert (t.change_fen, t.rounding_fen, t.remaining_fen) == (change, rounding, 0)
    assert t.taken_fen + t.rounding_fen == due


def test_partial_cash_and_bad_input() -> None:
    t = cash.tender(1237, 1000, "jiao_down")
    assert (t.taken_fen, t.change_fen, t.remaining_fen, t.rounding_fen) == (1000, 0, 237, 0)
    with pytest.raises(cash.CashError):
        cash.tender(100, 1.5, "none")  # type: ignore[arg-type]
    with pytest.raises(cash.CashError):
        cash.round_due(100, "half_up")


@given(st.integers(1, 10**8), st.integers(0, 10**8), st.sampled_from(cash.RULES))
def test_cash_never_charges_more_than_due(due: int, tendered: int, rule: str) -> None:
    t = cash.tender(due, tendered, rule)
    assert t.rounding_fen >= 0 and t.taken_fen <= due
    assert t.taken_fen + t.change_fen == tendered
