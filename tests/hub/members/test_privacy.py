"""Export and erasure of a member's personal data (个人信息保护法) on both databases: the export
holds it in clear; erasure wipes it from the profile and from profiles merged into it, the raw
rows then hold neither the phone, the name nor the birthday, the phone finds no one, and the
member's sales and points stay under the pseudonym. Through the API: both audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from hub.db import Database
from hub.loyalty.service import Ledger
from hub.members import privacy
from hub.members.service import MemberError, Members
from hub.sales.models import Sale
from tests.hub.auth.conftest import Hub, make_hub
from tests.hub.members import rows
from tests.hub.till import Till, register

PHONE, OTHER_PHONE, NAME = "13912345678", "13700137000", "欧阳娜娜"


def test_export_then_erase_keeps_sales_and_points(
    db: Database, members: Members, till: Till
) -> None:
    m = register(db, members, PHONE, name=NAME, birthday="1990-05-17", tags=["vip"])
    other = register(db, members, OTHER_PHONE, name=NAME)
    assert NAME not in rows.members_table(db).everything  # sealed
    with db.transaction() as s:
        members.merge(s, m, other, "same person")
        led = Ledger(s)
        led.lock([m])
        led.credit(m, "adjust_in", 40, source_type="manual", source_id="x")
    till.send(till.sale(member=m))

    with db.transaction() as s:
        out = privacy.export(members, s, m)
    assert out["profile"]["phone"].endswith(PHONE) and out["profile"]["name"] == NAME
    assert [p["phone"][-11:] for p in out["merged_profiles"]] == [OTHER_PHONE]
    with db.transaction() as s:
        led = Ledger(s)
        led.lock([m])
        before = led.account(m).balance
        done = privacy.erase(members, s, m)
    assert done["pseudonym"] == privacy.pseudonym(m)
    assert {"name", "phone", "birthday", "tags"} <= set(done["wiped"])

    table = rows.members_table(db)
    for personal in (PHONE, OTHER_PHONE, NAME, "1990-05-17"):
        assert personal not in table.everything
    for personal in (PHONE, OTHER_PHONE, NAME, "1990", "05-17", "vip"):
        assert personal not in table.clear
    with db.transaction() as s:
        assert members.find(s, phone=PHONE) is None
        assert members.view(members.get(s, m))["erased"] is True
        led = Ledger(s)
        led.lock([m])
        assert led.account(m).balance == before > 0  # points kept under the pseudonym
        assert s.scalar(select(func.count()).select_from(Sale).where(Sale.member_id == m)) == 1
    with db.transaction() as s, pytest.raises(MemberError, match="erased"):
        privacy.erase(members, s, m)
    # the person may come back: a new profile, nothing of the old one found by the phone
    assert register(db, members, PHONE) != m


def test_names_stored_in_clear_before_0008_are_sealed_at_start(
    db: Database, members: Members
) -> None:
    m = register(db, members, PHONE)
    with db.transaction() as s:  # as a profile from before the migration holds it
        s.execute(text("UPDATE members SET name = :n WHERE id = :id"), {"n": NAME, "id": m})
    with db.transaction() as s:
        assert members.seal_clear_fields(s) == 1
        assert members.seal_clear_fields(s) == 0
    assert NAME not in rows.members_table(db).everything
    with db.transaction() as s:
        assert members.view(members.get(s, m))["name"] == NAME


def test_birthdays_and_tags_stored_in_clear_before_0013_are_sealed_at_start(
    db: Database, members: Members
) -> None:
    m = register(db, members, PHONE, tags=["vip"])
    with db.transaction() as s:  # as a profile from before the migration holds them
        s.execute(
            text("UPDATE members SET birthday = :b, tags = :t WHERE id = :id"),
            {"b": date(1990, 5, 17), "t": '["aunt-of-staff", "vip"]', "id": m},
        )
    with db.transaction() as s:
        assert members.seal_clear_fields(s) == 1
        assert members.seal_clear_fields(s) == 0
    table = rows.members_table(db)
    assert "aunt-of-staff" not in table.everything
    for personal in ("1990", "05-17", "aunt-of-staff", "vip"):
        assert personal not in table.clear
    with db.transaction() as s:
        view = members.view(members.get(s, m))
        assert view["birthday"] == date(1990, 5, 17)
        assert view["tags"] == ["aunt-of-staff", "vip"]  # the sealed one kept too
        assert s.scalar(text("SELECT birth_month FROM members")) == 5


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.delenv("STOREGW_HUB_TOKEN", raising=False)
    monkeypatch.delenv("STOREGW_HUB_AUTH_KEY", raising=False)
    yield from make_hub(tmp_path / "hub")


def test_export_and_erasure_over_the_api_are_audited(hub: Hub) -> None:
    c, admin, mkt = hub.client, hub.admin(), hub.as_(hub.token("hq_marketing"))
    mid = c.post("/api/members", json={"phone": PHONE, "name": NAME}, headers=admin).json()["id"]
    r = c.get(f"/api/members/{mid}/export", headers=mkt)
    assert r.status_code == 200 and r.json()["profile"]["phone"].endswith(PHONE)
    assert c.post(f"/api/members/{mid}/erase", headers=mkt).status_code == 403  # hq_admin's
    r = c.post(f"/api/members/{mid}/erase", headers=admin)
    assert r.status_code == 200, r.text
    assert c.post(f"/api/members/{mid}/erase", headers=admin).status_code in (409, 422)
    got = c.get("/api/audit", params={"who": "hq_marketing"}, headers=admin).json()["entries"]
    assert [(e["action"], e["target"]) for e in got] == [("member.export", mid)]
    erased = c.get("/api/audit", params={"action": "member.erase"}, headers=admin).json()
    assert PHONE not in repr(erased) and NAME not in repr(erased)  # the log holds no data
    assert c.get(f"/api/members/{mid}", headers=admin).json()["name"] is None
