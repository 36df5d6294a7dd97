"""Random catalogs, promotions and baskets: priced at the edge (the gateway's snapshot bytes,
parsed as the gateway does, the engine, the sale body as the lane writes it), booked through
the hub's real ingest, recomputed by the hub: no difference, the booked total is the engine's,
and no line below its margin floor unless the sale says a manager overrode it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.db import Database
from hub.pricing import recompute
from hub.pricing.models import PriceDifference
from hub.sales.models import Sale, SaleLine
from tests.hub.pricing.helpers import held_promotions, lane_sale, open_store
from tests.loyalty.conftest import Till
from tests.protocols.pricing.strategies import items, members, policies, promotion_docs

AT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items(), promotion_docs(), members, policies, st.booleans())
def test_edge_pricing_equals_the_hubs_recompute(
    db: Database, basket, docs, member, policy, override
):
    store = f"p{uuid.uuid4().hex[:12]}"  # a store per example: its snapshots start at v1
    till = Till(db, store=store)
    version = open_store(db, store, docs)
    promos = held_promotions(db, store, version)
    env, priced = lane_sale(
        till, basket, promos, version, AT, member=member, policy=policy, override=override
    )
    till.send(env)
    assert recompute.run(db)["checked"] >= 1
    with db.transaction() as s:
        assert (
            list(s.scalars(select(PriceDifference).where(PriceDifference.store_id == store))) == []
        )
        sale = s.get(Sale, env["id"])
        assert sale is not None and sale.total_fen == priced.total_fen
        lines = list(
            s.scalars(select(SaleLine).where(SaleLine.sale_id == env["id"]).order_by(SaleLine.n))
        )
    assert [ln.total_fen for ln in lines] == [p.total_fen for p in priced.lines]
    assert sum(ln.total_fen for ln in lines) == sale.total_fen
    if not override:
        assert all(p.total_fen >= p.floor_fen for p in priced.lines)
    assert env["body"]["pricing"]["override"] is override
