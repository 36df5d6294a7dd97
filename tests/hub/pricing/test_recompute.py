"""The hub prices every booked sale again with the lane's engine and flags what differs;
booking never waits for it: ingest queues the check, the pricing job does it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from hub.app import create_app
from hub.db import Database
from hub.pricing import recompute
from hub.pricing.models import PriceCheck, PriceDifference
from hub.sales.models import Sale
from protocols.pricing import Item, Policy
from tests.hub.pricing.helpers import held_promotions, lane_sale, open_store
from tests.loyalty.conftest import Till

AT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
PROMOS = [
    {"name": "满100减20", "kind": "spend_save", "rule": {"threshold_fen": 10000, "save_fen": 2000}},
    {
        "name": "饮料第二件半价",
        "kind": "multibuy",
        "rule": {"n": 2, "percent_off": 25, "categories": ["drinks"]},
    },
]


def basket() -> list[Item]:
    return [
        Item("cola", 3000, 350, cost_fen=200, category="drinks"),
        Item("rice", 1000, 8990, cost_fen=7000),
        Item("apple", 1234, 1280, weighed=True, category="fresh"),
    ]


def differences(db: Database) -> list[PriceDifference]:
    with db.transaction() as s:
        return list(s.scalars(select(PriceDifference).order_by(PriceDifference.id)))


def booked(db: Database) -> int:
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(Sale))


def queued(db: Database) -> int:
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(PriceCheck))


def test_a_sale_priced_by_the_lane_recomputes_to_the_same_fen(db: Database, till: Till):
    v = open_store(db, till.store, PROMOS)
    env, priced = lane_sale(
        till, basket(), held_promotions(db, till.store, v), v, AT, policy=Policy(min_margin_bp=500)
    )
    assert {s.kind for s in priced.savings} == {"spend_save", "multibuy"}
    till.send(env)
    assert booked(db) == 1 and queued(db) == 1  # booked, its check waits for the job
    assert recompute.run(db) == {"checked": 1, "differences": 0}
    assert differences(db) == [] and queued(db) == 0


def test_a_tampered_line_is_flagged_with_the_line_and_logged_and_still_booked(
    db: Database, till: Till, caplog
):
    v = open_store(db, till.store, PROMOS)
    env, priced = lane_sale(till, basket(), held_promotions(db, till.store, v), v, AT)
    ln = env["body"]["lines"][1]  # the rice: 200 fen more off than the engine gives
    ln["discount_fen"] += 200
    ln["total_fen"] -= 200
    env["body"]["total_fen"] -= 200
    env["body"]["payments"][0]["amount_fen"] -= 200
    till.send(env)
    assert booked(db) == 1
    with caplog.at_level(logging.WARNING, logger="hub.pricing.recompute"):
        assert recompute.run(db) == {"checked": 1, "differences": 1}
    [d] = differences(db)
    assert d.sale_id == env["id"] and d.promotions_version == v
    assert (d.booked_total_fen, d.expected_total_fen) == (priced.total_fen - 200, priced.total_fen)
    assert d.lines == [
        {
            "line": 2,
            "sku": "rice",
            "booked_fen": ln["total_fen"],
            "expected_fen": ln["total_fen"] + 200,
        }
    ]
    assert "line(s) differ" in d.reason and "savings listed differ" not in d.reason
    assert any("price difference on sale " + env["id"] in r.message for r in caplog.records)


def test_recompute_uses_the_version_the_lane_priced_with_not_the_newest(db: Database, till: Till):
    v1 = open_store(db, till.store, PROMOS)
    env, _ = lane_sale(till, basket(), held_promotions(db, till.store, v1), v1, AT)
    v2 = open_store(
        db, till.store, [{"name": "全场5折", "kind": "percent_off", "rule": {"percent_off": 50}}]
    )
    assert v2 == v1 + 1
    till.send(env)
    recompute.run(db)
    assert differences(db) == []


def test_a_sale_naming_no_version_is_recomputed_with_the_current_promotions(
    db: Database, till: Till
):
    v = open_store(db, till.store, PROMOS)
    env, _ = lane_sale(till, basket(), held_promotions(db, till.store, v), None, AT)
    plain = till.sale(
        [
            {
                "sku": "rice",
                "name": "rice",
                "qty_milli": 2000,
                "unit_price_fen": 8990,
                "total_fen": 17980,
            }
        ],
        at=AT,
    )
    till.send(env, plain)
    recompute.run(db)
    # the plain sale skipped the 满100减20 the current rules give: flagged, yet booked
    [d] = differences(db)
    assert d.sale_id == plain["id"] and d.promotions_version is None
    assert (d.booked_total_fen, d.expected_total_fen) == (17980, 15980)
    assert booked(db) == 2


def test_an_unknown_snapshot_version_is_a_difference_not_a_refusal(db: Database, till: Till):
    v = open_store(db, till.store, PROMOS)
    env, _ = lane_sale(till, basket(), held_promotions(db, till.store, v), v, AT)
    env["body"]["pricing"]["promotions_version"] = 99
    till.send(env)
    assert booked(db) == 1
    recompute.run(db)
    [d] = differences(db)
    assert d.expected_total_fen is None
    assert (
        d.reason == f"could not recompute: promotions snapshot v99 of {till.store} is unknown here"
    )


def test_differences_are_listed_by_the_api_paged_and_by_store(
    db: Database, till: Till, tmp_path, monkeypatch
):
    open_store(db, till.store, PROMOS)
    other = Till(db, store="s2")  # runs no promotions: a lane's own 1.00 off is a difference
    rice = {"sku": "rice", "name": "rice", "qty_milli": 2000, "unit_price_fen": 8990}
    till.send(till.sale([{**rice, "total_fen": 17980}], at=AT))
    till.send(till.sale([{**rice, "total_fen": 17980}], at=AT))
    other.send(other.sale([{**rice, "discount_fen": 100, "total_fen": 17880}], at=AT))
    assert recompute.run(db, per_transaction=2) == {"checked": 3, "differences": 3}
    monkeypatch.setenv("STOREGW_HUB_TOKEN", "t0ken-pricing")
    app = create_app(tmp_path / "hub", db.url)
    with TestClient(app, headers={"Authorization": "Bearer t0ken-pricing"}) as api:
        page = api.get("/api/pricing/differences", params={"limit": 2}).json()
        assert [d["store"] for d in page["differences"]] == [till.store, till.store]
        rest = api.get("/api/pricing/differences", params={"after": page["next_cursor"]}).json()
        assert [d["store"] for d in rest["differences"]] == ["s2"] and rest["next_cursor"] is None
        assert rest["differences"][0]["expected_total_fen"] == 17980
        assert rest["differences"][0]["lines"] == [
            {"line": 1, "sku": "rice", "booked_fen": 17880, "expected_fen": 17980}
        ]
        mine = api.get("/api/pricing/differences", params={"store": "s2"}).json()
        assert len(mine["differences"]) == 1
        assert api.get("/api/pricing/differences", params={"limit": 0}).status_code == 422


def test_checks_are_claimed_once_and_survive_a_failed_run(db: Database, till: Till):
    open_store(db, till.store, PROMOS)
    rice = {"sku": "rice", "name": "rice", "qty_milli": 2000, "unit_price_fen": 8990}
    till.send(till.sale([{**rice, "total_fen": 17980}], at=AT))
    with pytest.raises(RuntimeError), db.transaction() as s:  # a run that dies midway
        s.execute(delete(PriceCheck))
        raise RuntimeError("the hub stopped")
    assert queued(db) == 1  # its claim went with it: still queued
    assert recompute.run(db) == {"checked": 1, "differences": 1}
    assert recompute.run(db) == {"checked": 0, "differences": 0}  # never twice
    assert len(differences(db)) == 1
