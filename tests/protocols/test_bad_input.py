"""Hypothesis over the contract's parsers and event schemas that had none: whatever arrives
(any bytes, any JSON, a valid message with any field replaced), each parser answers with its
result or its own error class saying why, never anything else; and what we encode parses
back. (scales, codes, escpos, zvt, pricing and the stream framing have theirs beside their
modules' tests; the scanners in tests/protocols/scanners.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import coupons, qrpay, rpc, snapshots, topics
from protocols.envelope import Envelope, Rejection, decode_batch, encode_batch, validate_event
from protocols.events import SCHEMAS, BodyError, check_body
from protocols.refunds import is_sale_id
from protocols.strict import Invalid
from rig.samples import sale_event

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(st.binary(max_size=2000))
def test_any_bytes_as_a_batch_are_rejections_never_a_crash(payload: bytes) -> None:
    out = decode_batch(payload, "s1", "g1")
    assert all(isinstance(x, Envelope | Rejection) for x in out)
    assert all(x.reason for x in out if isinstance(x, Rejection))


@FAST
@given(st.lists(JSON, max_size=4))
def test_any_json_events_are_validated_or_rejected_with_a_reason(events: list[Any]) -> None:
    for x in decode_batch(json.dumps(events).encode(), "s1", "g1"):
        assert isinstance(x, Envelope | Rejection)
        if isinstance(x, Rejection):
            assert x.reason


@FAST
@given(st.sampled_from(sorted(sale_event(1))), JSON)
def test_a_sale_with_any_field_replaced_is_checked_not_crashed(field: str, value: Any) -> None:
    event = {**sale_event(1, store="s1", gateway="g1"), field: value}
    out = validate_event(event, "s1", "g1")
    assert isinstance(out, Envelope | Rejection)
    if isinstance(out, Rejection):
        assert out.reason


@FAST
@given(st.sampled_from(sorted(sale_event(1)["body"])), JSON)
def test_a_sale_body_with_any_field_replaced_is_checked_not_crashed(field: str, value: Any) -> None:
    event = sale_event(1, store="s1", gateway="g1")
    event["body"] = {**event["body"], field: value}
    assert isinstance(validate_event(event, "s1", "g1"), Envelope | Rejection)


def test_a_valid_sale_round_trips_through_a_batch() -> None:
    event = sale_event(3, store="s1", gateway="g1")
    [out] = decode_batch(encode_batch([json.dumps(event)]), "s1", "g1")
    assert isinstance(out, Envelope) and out.seq == 3


@FAST
@given(st.sampled_from(sorted(SCHEMAS)), JSON)
def test_every_event_schema_takes_any_body_or_says_why(key: tuple[str, int], body: Any) -> None:
    try:
        assert isinstance(check_body(key[0], key[1], body), dict)
    except BodyError as err:
        assert str(err)


@FAST
@given(st.binary(max_size=500))
def test_rpc_messages_parse_or_are_invalid(payload: bytes) -> None:
    for parse in (rpc.parse_request, rpc.parse_reply):
        try:
            parse(payload)
        except Invalid as err:
            assert str(err)


@FAST
@given(st.sampled_from(sorted(rpc.PARAMS)), st.dictionaries(st.text(max_size=12), JSON))
def test_rpc_params_of_every_method_check_or_are_invalid(method: str, params: dict) -> None:
    try:
        rpc.check_params(method, params)
    except Invalid as err:
        assert str(err)


@FAST
@given(st.text(max_size=40), st.sampled_from(sorted(rpc.PARAMS)))
def test_rpc_requests_round_trip(request_id: str, method: str) -> None:
    sent = rpc.Request(id=request_id or "x", method=method, params={})
    try:
        got = rpc.parse_request(rpc.encode(sent))
    except Invalid:
        return  # an id the contract refuses (too long, control characters): refused both ways
    assert (got.id, got.method) == (sent.id, sent.method)


@FAST
@given(st.binary(max_size=1000), st.sampled_from(["catalog", "prices", "promotions", "tiers"]))
def test_snapshots_parse_or_say_why(payload: bytes, kind: str) -> None:
    try:
        snapshots.parse(payload, "s1", kind)
    except snapshots.SnapshotError as err:
        assert str(err)


@FAST
@given(JSON)
def test_any_json_as_a_snapshot_says_why(doc: Any) -> None:
    try:
        snapshots.parse(json.dumps(doc).encode(), "s1", "prices")
    except snapshots.SnapshotError as err:
        assert str(err)


@FAST
@given(st.dictionaries(st.from_regex(r"\A[0-9]{8,14}\Z"), st.integers(0, 10**7), max_size=5))
def test_a_snapshot_built_here_parses_there(prices: dict[str, int]) -> None:
    snap = snapshots.build(
        "s1", "prices", 7, {"prices": prices}, datetime(2026, 11, 28, tzinfo=UTC)
    )
    assert snapshots.parse(snapshots.encode(snap), "s1", "prices").sha256 == snap.sha256


@FAST
@given(st.text(max_size=30))
def test_coupon_codes_normalise_or_say_why(text: str) -> None:
    try:
        code = coupons.normalize(text)
    except coupons.CodeError as err:
        assert str(err)
    else:
        assert coupons.normalize(coupons.pretty(code)) == code


@FAST
@given(st.integers(0, 10))
def test_new_coupon_codes_survive_their_printed_form(_n: int) -> None:
    code = coupons.new_code()
    assert coupons.normalize(coupons.pretty(code).lower()) == code


@FAST
@given(JSON)
def test_payment_replies_of_any_shape_are_a_reply(raw: Any) -> None:
    for read in (qrpay.pay_reply, qrpay.query_reply, qrpay.reverse_reply):
        reply = read(raw)
        assert isinstance(reply, qrpay.Reply) and reply.outcome
        assert reply.paid_fen is None or isinstance(reply.paid_fen, int)


@FAST
@given(st.dictionaries(st.text(max_size=10), JSON, max_size=6), st.text(min_size=1, max_size=20))
def test_signed_bodies_verify_and_any_change_does_not(body: dict, key: str) -> None:
    try:
        signed = qrpay.sign(body, key)
    except UnicodeEncodeError:  # a lone surrogate: we never sign one (ours come from str)
        assert not qrpay.verify({**body, "sign": "0" * 64}, "k")
        return
    assert qrpay.verify(signed, key)
    assert not qrpay.verify({**signed, "sign": "0" * 32}, key)


def test_a_reply_with_a_lone_surrogate_fails_verification_not_the_caller() -> None:
    # json.loads('{"a": "\\ud800"}') makes one; verify raised on it before
    reply = json.loads('{"result": "SUCCESS", "message": "\\ud800", "sign": "00"}')
    assert qrpay.verify(reply, "key") is False


@FAST
@given(st.text(max_size=40))
def test_sale_ids_are_recognised_without_a_crash(text: str) -> None:
    assert isinstance(is_sale_id(text), bool)


@FAST
@given(st.text(max_size=30))
def test_a_share_group_name_never_holds_a_wildcard_or_separator(group: str) -> None:
    try:
        topic = topics.events_shared(group)
    except ValueError:
        assert not group or any(c in group for c in "/+#")
    else:
        assert topic == f"$share/{group}/{topics.EVENTS_ALL}"
