"""For any sequence of moves and reservations: on hand equals the sum of the moves, the
balance table agrees with the ledger, and a balance in trouble (below zero, or more reserved
than on hand) always has its open alert — and only then."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from hub.db import Database
from hub.stock import ledger
from hub.stock.ledger import Move, StockError
from hub.stock.models import MOVE_KINDS

SKUS = ("A", "B")
qty = st.integers(min_value=1, max_value=5_000)
op = st.one_of(
    st.tuples(
        st.just("move"), st.sampled_from(SKUS), st.sampled_from(MOVE_KINDS), qty, st.booleans()
    ),
    st.tuples(st.just("reserve"), st.sampled_from(SKUS), qty),
    st.tuples(st.just("unreserve"), st.sampled_from(SKUS), qty, st.booleans()),
)
NOW = datetime(2026, 11, 28, 4, tzinfo=UTC)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=25))
def test_balances_follow_the_moves_and_trouble_is_alerted(db: Database, ops: list[tuple]) -> None:
    store = f"p{uuid.uuid4().hex[:8]}"  # each example its own store: examples share the db
    on_hand = dict.fromkeys(SKUS, 0)
    held = dict.fromkeys(SKUS, 0)
    with db.transaction() as s:  # one commit per example; each step in a savepoint
        for o in ops:
            sku = o[1]
            try:
                with s.begin_nested():
                    if o[0] == "move":
                        _, _, kind, q, out = o
                        signed = -q if out else q
                        ledger.post(s, [Move(store, sku, kind, signed)], NOW)
                        on_hand[sku] += signed
                    elif o[0] == "reserve":
                        ledger.reserve(s, store, {sku: o[2]}, NOW)
                        held[sku] += o[2]
                    elif q := min(o[2], held[sku]):
                        ledger.unreserve(s, store, {sku: q}, NOW, taken=o[3])
                        held[sku] -= q
                        on_hand[sku] -= q if o[3] else 0
            except StockError as err:
                assert o[0] == "reserve"
                assert "available" in str(err)
                assert o[2] > on_hand[sku] - held[sku]  # refused only when not available
            _check(s, store, on_hand, held)


def _check(s: Session, store: str, on_hand: dict[str, int], held: dict[str, int]) -> None:
    b = ledger.balances(s, [(store, k) for k in SKUS])
    assert ledger.verify(s, store) == []
    alerts = {(a["sku"], a["kind"]) for a in ledger.open_alerts(s, store)}
    for k in SKUS:
        got = b.get((store, k))
        assert (got.on_hand_milli if got else 0) == on_hand[k]
        assert (got.reserved_milli if got else 0) == held[k]
        assert ((k, "negative") in alerts) == (on_hand[k] < 0)
        assert ((k, "overreserved") in alerts) == (held[k] > 0 and held[k] > on_hand[k])
        # reservations beyond what is on hand never go unnoticed
        assert held[k] <= max(on_hand[k], 0) or (k, "overreserved") in alerts


def test_a_reservation_takes_only_what_is_available(db: Database) -> None:
    with db.transaction() as s:
        ledger.post(s, [Move("s9", "A", "received", 3000)], NOW)
        ledger.reserve(s, "s9", {"A": 2000}, NOW)
    with pytest.raises(StockError, match="1000 available"), db.transaction() as s:
        ledger.reserve(s, "s9", {"A": 1001}, NOW)
