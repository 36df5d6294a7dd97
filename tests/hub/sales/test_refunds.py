"""The hub's refund books on a real database (SQLite file; PostgreSQL when configured): per line
and per sale a refund never gives back more than was sold, whatever the order of arrival and
however many stores refund, also when passes and claims run at the same time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.app import ingest_handlers
from hub.db import Database
from hub.http_errors import status_of
from hub.ingest.service import Ingest
from hub.sales import refunds
from hub.sales.models import Refund, RefundClaim, RefundIssue, Sale, SaleLine
from tests.hub.sales.refund_events import FULL, LINE_B, SOLD, Stores, message
from transport.ids import new_id


@pytest.fixture
def db(tmp_path: Path, hub_db_url: str | None) -> Iterator[Database]:
    database = Database(hub_db_url or f"sqlite:///{tmp_path / 'hub.db'}")
    database.migrate()
    yield database
    database.engine.dispose()


def books(db: Database, sale_id: str) -> dict:
    with db.transaction() as s:
        sale = s.get(Sale, sale_id)
        lines = {
            x.sku: (x.refunded_qty_milli, x.refunded_fen)
            for x in s.scalars(select(SaleLine).where(SaleLine.sale_id == sale_id))
        }
        return {
            "refunded_fen": sale.refunded_fen if sale else None,
            "lines": lines,
            "booked": sorted(
                s.scalars(
                    select(Refund.id).where(Refund.sale_id == sale_id, Refund.status == "booked")
                )
            ),
            "unmatched": sorted(
                s.scalars(
                    select(Refund.id).where(Refund.sale_id == sale_id, Refund.status == "unmatched")
                )
            ),
            "issues": {
                r.id: r.reason
                for r in s.scalars(select(RefundIssue).where(RefundIssue.sale_id == sale_id))
            },
        }


def test_refunds_before_their_sale_are_held_and_counted_when_it_arrives(db: Database):
    ev, ingest = Stores(), Ingest(db, ingest_handlers())
    sale = ev.sale("sa")
    first = ev.refund(sale["id"], FULL, store="sb", at="2026-11-23T03:00:00Z")
    second = ev.refund(sale["id"], FULL, store="sc", at="2026-11-23T03:05:00Z")
    ingest.apply([message(first), message(second)])
    b = books(db, sale["id"])
    assert b["refunded_fen"] is None and b["unmatched"] == sorted([first["id"], second["id"]])

    ingest.apply([message(sale)])  # store A's gateway is back
    b = books(db, sale["id"])
    assert b["refunded_fen"] == SOLD  # not 12,000: the second full refund is not booked
    assert b["booked"] == [first["id"]] and b["unmatched"] == []
    assert "exceeds" in b["issues"][second["id"]]
    assert b["lines"] == {"A-40": (1000, 4000), "B-10": (2000, 2000)}

    late = ev.refund(sale["id"], LINE_B, store="sd")  # and after it, too
    ingest.apply([message(late)])
    b = books(db, sale["id"])
    assert b["refunded_fen"] == SOLD and late["id"] in b["issues"]


def test_a_line_refunded_twice_under_new_keys_is_booked_once(db: Database):
    ev, ingest = Stores(), Ingest(db, ingest_handlers())
    sale = ev.sale("sa")
    once = ev.refund(sale["id"], LINE_B, store="sb")
    twice = ev.refund(sale["id"], LINE_B, store="sc")
    one_more = ev.refund(sale["id"], [{"sku": "B-10", "qty_milli": 1000, "amount_fen": 1}])
    ingest.apply([message(sale), message(once), message(twice), message(one_more)])
    b = books(db, sale["id"])
    # line B gives back its 2 × 10.00 once and nothing more, although the sale has 40.00 left
    assert b["booked"] == [once["id"]] and b["refunded_fen"] == 2000
    assert b["lines"]["B-10"] == (2000, 2000) and b["lines"]["A-40"] == (0, 0)
    assert set(b["issues"]) == {twice["id"], one_more["id"]}
    assert all("exceeds what is left on that line" in r for r in b["issues"].values())


def test_a_refund_line_not_in_the_sale_is_refused(db: Database):
    ev, ingest = Stores(), Ingest(db, ingest_handlers())
    sale = ev.sale("sa")
    stranger = ev.refund(sale["id"], [{"sku": "Z-99", "qty_milli": 1000, "amount_fen": 100}])
    wrong_line = ev.refund(
        sale["id"], [{"sku": "B-10", "qty_milli": 1000, "amount_fen": 100, "line": 1}]
    )
    ingest.apply([message(sale), message(stranger, wrong_line)])
    b = books(db, sale["id"])
    assert b["refunded_fen"] == 0 and b["booked"] == []
    assert "Z-99 is not in the sale" in b["issues"][stranger["id"]]
    assert "no line 1 with SKU B-10" in b["issues"][wrong_line["id"]]


def test_a_claim_holds_its_part_against_unchecked_refunds(db: Database):
    ev, ingest = Stores(), Ingest(db, ingest_handlers())
    sale = ev.sale("sa")
    ingest.apply([message(sale)])
    cid = new_id()
    with db.transaction() as s:
        got = refunds.claim(s, cid, sale["id"], LINE_B, store="sb", gateway="g1", lane="2")
    assert got["left_after"]["total_fen"] == SOLD - 2000
    with db.transaction() as s, pytest.raises(refunds.RefundError, match="exceeds") as err:
        refunds.claim(s, new_id(), sale["id"], LINE_B, store="sc", gateway="g1", lane="1")
    assert status_of(err.value) == 409
    unchecked = ev.refund(sale["id"], LINE_B, store="sc")  # an offline lane's, no claim
    claimed = ev.refund(sale["id"], LINE_B, store="sb", claim_id=cid)
    ingest.apply([message(unchecked), message(claimed)])
    b = books(db, sale["id"])
    assert b["booked"] == [claimed["id"]] and unchecked["id"] in b["issues"]
    assert b["lines"]["B-10"] == (2000, 2000)
    with db.transaction() as s:
        assert s.get(RefundClaim, cid) is None  # spent by its refund


def test_concurrent_claims_for_one_sale_one_wins(db: Database):
    ev = Stores()
    sale = ev.sale("sa")
    Ingest(db, ingest_handlers()).apply([message(sale)])
    won: list[str] = []
    refused: list[int] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        try:
            with db.transaction() as s:
                refunds.claim(s, new_id(), sale["id"], FULL, store="sb", gateway="g1", lane="1")
            won.append("x")
        except refunds.RefundError as err:
            refused.append(status_of(err))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1 and refused == [409] * 7


@pytest.mark.parametrize("rounds", [12])
def test_a_sale_and_its_refund_in_concurrent_passes_always_meet(db: Database, rounds: int):
    """Two hub workers: one books the sale while the other books a refund of it that finds no
    sale yet. The refund must end up counted, never left unmatched beside its sale."""
    ev = Stores()
    for _ in range(rounds):
        sale = ev.sale("sa")
        refund = ev.refund(sale["id"], LINE_B, store="sb")
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def apply(
            msg: tuple[str, bytes],
            start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            start.wait()
            try:
                Ingest(db, ingest_handlers()).apply([msg])
            except BaseException as err:  # a deadlock victim is retried by the worker: here too
                errors.append(err)
                Ingest(db, ingest_handlers()).apply([msg])

        threads = [
            threading.Thread(target=apply, args=(m,)) for m in (message(sale), message(refund))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        b = books(db, sale["id"])
        assert b["booked"] == [refund["id"]] and b["unmatched"] == [], (b, errors)
        assert b["refunded_fen"] == 2000
