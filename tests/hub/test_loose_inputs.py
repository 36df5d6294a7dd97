"""Loose inputs at the hub (issue 8 part 3, issue 11 "Loose inputs at the hub"): a real hub
process over HTTP on SQLite and PostgreSQL. Strict types, ranges the database holds, no NUL,
database refusals as 409/422 with the reason — never a 500."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from hub.catalog import service as catalog
from hub.catalog.models import GatewaySnapshot
from hub.db import Database
from protocols import topics
from tests.conftest import Broker, Hub, wait_until

BIG = 2**63  # one past int64


@pytest.fixture
def hub(broker: Broker, hub_db_url: str | None, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path / "hub", broker.url, hub_db_url)
    h.start()
    yield h
    h.stop()
    assert "Traceback" not in h.log.read_text(errors="replace"), h.tail(80)


def _refused(r: httpx.Response, status: int = 422) -> str:
    assert r.status_code == status, (r.status_code, r.text[:400])
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()["detail"]
    return detail if isinstance(detail, str) else str(detail)


def _template(**over: Any) -> dict[str, Any]:
    return {"name": "满100减10", "kind": "amount_off", "amount_fen": 1000, "valid_days": 30, **over}


def _member(api: httpx.Client, phone: str = "13800138000") -> str:
    r = api.post("/api/members", json={"phone": phone, "name": "李雷"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_money_is_never_coerced(hub: Hub):
    api = hub.http
    m = _member(api)
    for loose in ("500", 500.0, True, 500.5, None, [500]):
        _refused(api.post("/api/coupons/templates", json=_template(amount_fen=loose)))
    for loose in ("199", 199.0, False):
        _refused(api.put("/api/catalog/items/sku-1", json={"name": "水", "price_fen": loose}))
        _refused(api.post(f"/api/members/{m}/points/adjust", json={
            "points": loose, "reason": "goodwill", "key": "k1"
        }))  # fmt: skip
    ok = api.post("/api/coupons/templates", json=_template(amount_fen=500))
    assert ok.status_code == 201 and ok.json()["amount_fen"] == 500
    assert api.get("/api/coupons/templates").json()["templates"][0]["amount_fen"] == 500


def test_integers_beyond_what_the_database_holds_are_refused(hub: Hub):
    api = hub.http
    m = _member(api)
    adjust = {"reason": "goodwill", "key": "k-big"}
    for points in (BIG, -BIG - 1, 10**30):
        _refused(api.post(f"/api/members/{m}/points/adjust", json={**adjust, "points": points}))
    _refused(api.post("/api/coupons/templates", json=_template(amount_fen=BIG)))
    item = {"name": "保温杯", "kind": "goods", "points_price": BIG}
    _refused(api.post("/api/mall/items", json=item))
    # 32-bit INTEGER columns on PostgreSQL: the same bound on both databases
    _refused(api.patch("/api/points/settings", json={"base_rate_milli": 2**31}))
    _refused(api.put("/api/tiers/vip", json={"name": "VIP", "rank": 2**31}))
    _refused(api.get(f"/api/tiers/changes?after={BIG}"))
    _refused(api.get("/api/tiers/changes?after=99999999999999999999999999"))
    _refused(api.get(f"/api/tiers/changes?after={2**31}"))  # change ids are 32-bit
    assert api.get(f"/api/tiers/changes?after={2**31 - 1}").json()["changes"] == []
    _refused(api.put(f"/api/points/rules/{2**31}", json={"name": "x", "rate_milli": 1}))
    # what fits is booked
    r = api.post(f"/api/members/{m}/points/adjust", json={**adjust, "points": 10**12})
    assert r.status_code == 200 and r.json()["balance"] == 10**12


def test_text_with_nul_is_refused(hub: Hub):
    api = hub.http
    detail = _refused(api.post("/api/members", json={"phone": "13800138001", "name": "wa\x00ter"}))
    assert "NUL" in detail
    _refused(api.put("/api/catalog/items/sku-1", json={"name": "wa\x00ter", "price_fen": 1}))
    _refused(api.get("/api/members/a%00b"))
    _refused(api.get("/api/members?phone=138%0000"))
    assert api.get("/api/members", params={"phone": "13800138001"}).json()["members"] == []


def test_database_refusals_are_409_or_422_with_the_reason(hub: Hub):
    api = hub.http
    # a foreign key to nothing: invalid input
    item = {"name": "保温杯", "kind": "goods", "points_price": 100, "coupon_template_id": 4242}
    assert "does not exist" in _refused(api.post("/api/mall/items", json=item), 422)
    _refused(api.post("/api/mall/items", json={**item, "coupon_template_id": 0}), 422)
    # a taken rank: a conflict
    assert api.put("/api/tiers/silver", json={"name": "银卡", "rank": 1}).status_code == 200
    taken = _refused(api.put("/api/tiers/gold", json={"name": "金卡", "rank": 1}), 409)
    assert "taken" in taken
    assert [t["code"] for t in api.get("/api/tiers").json()["tiers"]].count("gold") == 0


def test_a_member_needs_a_way_to_be_found(hub: Hub):
    api = hub.http
    assert "phone" in _refused(api.post("/api/members", json={}))
    _refused(api.post("/api/members", json={"name": "无名"}))
    _refused(api.post("/api/members", json={"phone": None, "id_number": None}))
    assert api.post("/api/members", json={"phone": "13800138002"}).status_code == 201
    assert api.post("/api/members", json={"id_number": "11010519491231002X"}).status_code == 201


def test_a_store_takes_its_id_from_the_path(hub: Hub):
    api = hub.http
    r = api.put("/api/stores/sh-jingan", json={"name": "静安店"})
    assert r.status_code == 200 and r.json()["id"] == "sh-jingan"
    assert api.put("/api/stores/sh-jingan", json={"id": "sh-jingan", "name": "静安"}).is_success
    _refused(api.put("/api/stores/sh-jingan", json={"id": "other", "name": "x"}))
    _refused(api.put("/api/stores/a+b", json={"name": "x"}))
    assert api.get("/api/stores/sh-jingan").json()["name"] == "静安"


def test_hostile_bodies_and_unknown_routes_get_json(hub: Hub):
    api = hub.http
    headers = {"Content-Type": "application/json"}
    for body in (b"[" * 200_000 + b"]" * 200_000, b'{"phone": "\xff\xfe"}', b"\x00{]"):
        r = api.post("/api/members", content=body, headers=headers)
        assert r.status_code in (400, 422) and "detail" in r.json(), r.text[:200]
    _refused(api.get("/api/no/such/thing"), 404)
    r = api.delete("/api/members")
    _refused(r, 405)
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}


def test_concurrent_snapshot_reports_are_recorded_once(hub: Hub, broker: Broker):
    """Each gateway's report, sent many times at once: every one is an upsert."""
    gateways = [f"g{i}" for i in range(8)]
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        # the same report again and again: recorded concurrently, each is the first INSERT
        sent = [
            c.publish(topics.snapshots_held("s1", g), b'{"catalog": 3, "prices": 2}', qos=1)
            for _ in range(6)
            for g in gateways
        ]
        for m in sent:
            m.wait_for_publish(10)
    finally:
        c.loop_stop()
        c.disconnect()

    def all_at_3() -> bool:
        held = hub.http.get("/api/stores/s1/snapshots").json()["snapshots"]["catalog"]
        return held["gateways"] == {g: 3 for g in gateways}

    wait_until(all_at_3, 30, what="every gateway's last report recorded")
    log = hub.log.read_text(errors="replace")
    assert "UniqueViolation" not in log and "IntegrityError" not in log


def test_two_reports_racing_for_the_first_insert_both_land(pg_url: str):
    """The race behind the hub log's UniqueViolation, made certain: report A has inserted the
    gateway's row and not committed when report B arrives. B waits on A's row lock; once A
    commits, B must update the row, not fail on the primary key (PostgreSQL)."""
    db = Database(pg_url)
    db.migrate()
    first = db.sessions()
    first.begin()
    catalog.record_held(first, "s1", "g1", b'{"catalog": 1}')
    first.flush()
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with db.transaction() as s:
                catalog.record_held(s, "s1", "g1", b'{"catalog": 2}')
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    t = threading.Thread(target=second)
    t.start()

    def waiting_on_a_lock() -> bool:
        with db.engine.connect() as c:
            q = (
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            return bool(c.exec_driver_sql(q).scalar_one())

    wait_until(waiting_on_a_lock, 20, what="report B waiting for report A's row")
    first.commit()
    first.close()
    t.join(20)
    assert outcome == [None], outcome
    with db.transaction() as s:
        rows = s.execute(select(GatewaySnapshot.version)).scalars().all()
    assert rows == [2]
    db.engine.dispose()
