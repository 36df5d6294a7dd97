"""The hub's ingest service on a real database (SQLite file; PostgreSQL when configured),
fed events the contract would refuse, to show what happens if something ever slips past it:
the failing event is isolated by splitting the pass, recorded (escaped so any bytes store)
and skipped; every other event applies. And the seq-conflict rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import func, select

from hub.db import Database
from hub.ingest.models import IngestConflict, RejectedEvent
from hub.ingest.service import Ingest
from hub.sales.models import Sale
from protocols import topics
from protocols.envelope import Envelope, Rejection, decode_batch
from tests.hub.ingest.poison import batch, sale

KEY = ("s9", "g1")


@pytest.fixture
def db(tmp_path: Path, hub_db_url: str | None) -> Iterator[Database]:
    database = Database(hub_db_url or f"sqlite:///{tmp_path / 'hub.db'}")
    database.migrate()
    yield database
    database.engine.dispose()


def envelopes(*seqs: int) -> list[Envelope]:
    out = decode_batch(batch(*(sale(q, "s9") for q in seqs)), *KEY)
    assert all(isinstance(e, Envelope) for e in out)
    return out  # type: ignore[return-value]


def tampered(env: Envelope, **line: object) -> Envelope:
    """The event with its first line changed, past the contract (as if it had a hole)."""
    body = json.loads(json.dumps(env.body))
    body["lines"][0].update(line)
    return msgspec.structs.replace(env, body=body)


def sales(db: Database) -> set[int]:
    with db.transaction() as s:
        return set(s.scalars(select(Sale.seq)))


def rejected(db: Database) -> dict[int | None, RejectedEvent]:
    with db.transaction() as s:
        return {r.seq: r for r in s.scalars(select(RejectedEvent))}


def test_a_failing_event_is_split_out_of_its_pass(db: Database):
    evs = envelopes(*range(1, 11))
    evs[2] = tampered(evs[2], total_fen=2**70)  # beyond BIGINT on both databases
    evs[6] = tampered(evs[6], name="wa\x00ter")  # PostgreSQL cannot hold NUL
    evs[7] = tampered(evs[7], category="c" * 300)  # beyond the PostgreSQL column
    garbage = Rejection(
        reason="bad\x00reason " + "r" * 10_000,
        raw="\x00\ud800 raw",
        seq=5,
        event_id="\x00" * 100,
        type="t\x00" * 50,
    )
    evs[4] = garbage  # type: ignore[call-overload]
    r = Ingest(db).apply_decoded({KEY: list(evs)}, [])
    assert r.acks == {KEY: 10}
    failing = {3, 5} | ({7, 8} if db.engine.dialect.name == "postgresql" else set())
    assert sales(db) == set(range(1, 11)) - failing
    rows = rejected(db)
    assert set(rows) == failing
    assert rows[3].reason.startswith(("the database refused it", "cannot be applied"))
    assert rows[5].raw == "\\u0000\\ud800 raw" and rows[5].reason.startswith("bad\\u0000reason")
    assert len(rows[5].event_id) <= 64 and len(rows[5].type) <= 64
    # the next pass goes on from there
    assert Ingest(db).apply_decoded({KEY: envelopes(11)}, []).acks == {KEY: 11}


def test_a_forged_event_rejected_first_does_not_cost_the_real_sale(db: Database):
    ingest = Ingest(db)
    real = envelopes(1, 2)
    forged = decode_batch(batch({**sale(2, "s9"), "type": "sale.teleported"}), *KEY)
    assert isinstance(forged[0], Rejection) and forged[0].seq == 2
    r = ingest.apply_decoded({KEY: [real[0], forged[0]]}, [])
    assert r.acks == {KEY: 2} and r.rejected == 1
    r = ingest.apply_decoded({KEY: [real[1]]}, [])  # the gateway's real seq 2
    assert r.conflicts == 1 and r.duplicates == 0 and r.acks == {KEY: 2}
    assert sales(db) == {1, 2}
    conflict = _conflicts(db)[0]
    assert (conflict.event_id, conflict.occupant, conflict.outcome) == (
        real[1].id,
        "rejected",
        "applied",
    )
    assert conflict.occupant_id == forged[0].event_id
    assert json.loads(conflict.raw)["id"] == real[1].id
    # the gateway resends it (its ack was lost): a duplicate now, not a second booking
    r = ingest.apply_decoded({KEY: [real[1]]}, [])
    assert r.duplicates == 1 and r.conflicts == 0 and len(_conflicts(db)) == 1
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == 2


def test_a_forged_event_applied_first_does_not_cost_the_real_sale(db: Database):
    ingest = Ingest(db)
    forged, real = envelopes(1)[0], envelopes(1)[0]
    assert ingest.apply_decoded({KEY: [forged]}, []).acks == {KEY: 1}
    r = ingest.apply_decoded({KEY: [real]}, [])
    assert r.conflicts == 1 and r.applied == 1
    with db.transaction() as s:
        assert set(s.scalars(select(Sale.id))) == {forged.id, real.id}
    conflict = _conflicts(db)[0]
    assert (conflict.occupant, conflict.occupant_id, conflict.outcome) == (
        "applied",
        forged.id,
        "applied",
    )
    # the occupant itself again is a plain duplicate
    r = ingest.apply_decoded({KEY: [forged, real]}, [])
    assert r.duplicates == 2 and r.conflicts == 0


def test_rivals_for_one_seq_in_one_pass(db: Database):
    a, b = envelopes(1)[0], envelopes(1)[0]
    c = envelopes(2)[0]
    r = Ingest(db).apply_decoded({KEY: [a, b, c]}, [])
    assert r.acks == {KEY: 2} and r.conflicts == 1
    with db.transaction() as s:
        assert set(s.scalars(select(Sale.id))) == {a.id, b.id, c.id}
    assert _conflicts(db)[0].event_id == b.id


def test_a_conflicting_invalid_event_is_kept_not_booked(db: Database):
    ingest = Ingest(db)
    ingest.apply_decoded({KEY: envelopes(1)}, [])
    bad = sale(1, "s9")
    bad["body"]["total_fen"] += 1
    r = ingest.apply(
        [(topics.events(*KEY), batch(bad)), (topics.events(*KEY), batch(sale(2, "s9")))]
    )
    assert r.conflicts == 1 and r.acks == {KEY: 2}
    conflict = _conflicts(db)[0]
    assert conflict.outcome == "rejected" and "total_fen" in conflict.reason
    assert sales(db) == {1, 2}


def _conflicts(db: Database) -> list[IngestConflict]:
    with db.transaction() as s:
        rows = list(s.scalars(select(IngestConflict).order_by(IngestConflict.id)))
        s.expunge_all()
        return rows


def test_a_large_resend_is_all_duplicates(db: Database):
    """A rewind resends thousands of applied events in one pass: plain duplicates."""
    ingest = Ingest(db)
    evs = envelopes(*range(1, 3001))
    assert ingest.apply_decoded({KEY: evs}, []).acks == {KEY: 3000}
    r = ingest.apply_decoded({KEY: evs + envelopes(3001)}, [])
    assert (r.duplicates, r.conflicts, r.applied, r.acks) == (3000, 0, 1, {KEY: 3001})
