"""One profile per person: registration from every channel, phone and ID numbers sealed at
rest and found through the blind index, merging with everything kept, the member card."""

from __future__ import annotations

import base64
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty.models import PointsLot
from hub.loyalty.service import Ledger
from hub.members import identity
from hub.members.models import Member, MemberMerge
from hub.members.service import Changes, MemberError, Members, Registration
from hub.members.vault import Vault, VaultError
from hub.tiers import service as tiers
from hub.tiers.models import Tier
from tests.hub.members import rows
from tests.hub.till import Till, register

ID_NO = "11010519491231002X"  # the standard's own example number


def test_registering_a_known_phone_returns_the_same_profile(db: Database, members: Members):
    with db.transaction() as s:
        first = members.register(s, Registration(phone="138 0013 8000", channel="lane"))
        assert first.created
    for typed, channel in (("+86 138-0013-8000", "mini_program"), ("008613800138000", "api")):
        with db.transaction() as s:
            again = members.register(s, Registration(phone=typed, channel=channel))
            assert not again.created and again.member.id == first.member.id
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Member)).scalar_one() == 1


def test_phone_and_id_number_are_sealed_at_rest_and_found_by_blind_index(
    db: Database, members: Members
):
    m = register(
        db,
        members,
        "13800138000",
        id_number=ID_NO.lower(),
        birthday="1987-03-21",
        tags=["孕婴偏好", "wholesale-buyer"],
    )
    table = rows.members_table(db)
    [raw] = table.rows
    # long secrets on every byte; short ones only where they could not turn up by chance
    secrets_ = ["13800138000", "8613800138000", "11010519491231002X", "1987-03-21"]
    secrets_ += ["wholesale-buyer", "孕婴偏好"]
    for secret in secrets_:
        assert secret not in table.everything
    for secret in (*secrets_, "1949", "1987", "03-21", "1231"):
        assert secret not in table.clear
    # the month alone is kept in clear, for the birthday multiplier, gifts and rules
    assert raw["birth_month"] == 3 and raw["birthday"] is None and raw["tags"] in ([], "[]")
    if db.engine.dialect.name == "sqlite":  # the raw file, every page of it, and its WAL
        db.engine.dispose()
        path = Path(db.engine.url.database or "")
        for f in (path, path.with_name(path.name + "-wal")):
            if f.exists():
                data = f.read_bytes()
                for secret in secrets_:
                    assert secret.encode() not in data, (f.name, secret)
    assert raw["phone_index"] != members.vault.index("phone", "13800138000")  # normalised
    with db.transaction() as s:
        assert members.find(s, phone="13800138000").id == m  # type: ignore[union-attr]
        assert members.find(s, id_number=ID_NO).id == m  # type: ignore[union-attr]
        assert members.find(s, phone="13800138001") is None
        view = members.view(members.get(s, m))
        assert view["phone"] == "138****8000" and view["id_number"] == "110***********002X"
        assert str(view["birthday"]) == "1987-03-21"
        assert view["tags"] == ["wholesale-buyer", "孕婴偏好"]
        assert members.contact(members.get(s, m)) == {
            "phone": "+8613800138000",
            "id_number": ID_NO,
        }


def test_a_sealed_value_opens_only_for_its_own_member_and_key(vault: Vault):
    blob = vault.seal("phone", "m1", "+8613800138000")
    assert vault.open("phone", "m1", blob) == "+8613800138000"
    with pytest.raises(VaultError):
        vault.open("phone", "m2", blob)  # moved to another row
    with pytest.raises(VaultError):
        Vault(secrets.token_bytes(32)).open("phone", "m1", blob)
    assert vault.index("phone", "x") != Vault(secrets.token_bytes(32)).index("phone", "x")


def test_the_member_key_comes_from_the_environment_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("STOREGW_MEMBER_KEY", raising=False)
    v1 = Vault.load(tmp_path)
    key_file = tmp_path / "member-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Vault.load(tmp_path).index("phone", "p") == v1.index("phone", "p")  # reused
    key = secrets.token_bytes(32)
    monkeypatch.setenv("STOREGW_MEMBER_KEY", base64.b64encode(key).decode())
    assert Vault.load(tmp_path).index("phone", "p") == Vault(key).index("phone", "p")
    monkeypatch.setenv("STOREGW_MEMBER_KEY", "not base64!")
    with pytest.raises(VaultError):
        Vault.load(tmp_path)


def test_bad_phone_and_id_numbers_are_refused_with_a_reason(db: Database, members: Members):
    for reg, why in (
        (Registration(phone="12345"), "not a phone number"),
        (Registration(phone="+8612345678901"), "China mobile"),
        (Registration(id_number="110105194912310021"), "check digit"),
        (Registration(channel="fax"), "channel"),
    ):
        with pytest.raises(MemberError, match=why), db.transaction() as s:
            members.register(s, reg)


def test_concurrent_registrations_of_one_phone_make_one_profile(db: Database, members: Members):
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def go() -> None:
        barrier.wait()
        with db.transaction() as s:
            ids.append(members.register(s, Registration(phone="13700137000")).member.id)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Member)).scalar_one() == 1


def test_merge_keeps_points_with_their_expiry_coupons_and_the_higher_tier(
    db: Database, members: Members
):
    with db.transaction() as s:
        s.add_all(
            [
                Tier(code="normal", name="普通", rank=0),
                Tier(
                    code="gold",
                    name="金卡",
                    rank=2,
                    discount_pct=90,
                    spend_threshold_fen=10**9,
                    downgrade_mode="never",
                ),
            ]
        )
    a = register(db, members, "13600136000", name="李雷")
    b = register(db, members, None, name="李雷", id_number=ID_NO, tags=["mini"])
    soon = datetime.now(UTC) + timedelta(days=5)
    with db.transaction() as s:
        tiers.set_tier(s, b, "gold")
        led = Ledger(s)
        led.lock([a, b])
        led.credit(b, "adjust_in", 70, source_type="manual", source_id="b1", expires_at=soon)
        led.credit(a, "adjust_in", 30, source_type="manual", source_id="a1")
    with db.transaction() as s:
        survivor = members.merge(s, b, a, "same person")
        assert survivor.id == a  # the older profile survives
    with db.transaction() as s:
        sa, sb = members.get(s, a), s.get(Member, b)
        assert sb is not None and sb.status == "merged" and sb.merged_into == a
        assert members.find(s, id_number=ID_NO).id == a  # type: ignore[union-attr]
        assert members.tags_of(sa) == ["mini"]
        led = Ledger(s)
        led.lock([a, b])
        assert (led.account(a).balance, led.account(b).balance) == (100, 0)
        lots = s.execute(
            select(PointsLot.remaining, PointsLot.expires_at)
            .where(PointsLot.member_id == a, PointsLot.remaining > 0)
            .order_by(PointsLot.expires_at)
        ).all()
        assert lots[0][0] == 70 and abs((lots[0][1] - soon).total_seconds()) < 1
        assert tiers.current(s, [a])[a].code == "gold"
        merge = s.scalars(select(MemberMerge)).one()
        assert merge.moved["points"]["points"] == 70
    with db.transaction() as s, pytest.raises(MemberError):
        members.merge(s, a, b, "again")  # b lives on a now: merging it with itself


def test_member_card_renewal_extends_validity(db: Database, members: Members):
    m = register(db, members, "13500135000")
    with db.transaction() as s:
        before = members.get(s, m).card_valid_until
        assert identity.card_no(members.get(s, m).card_no)
        after = members.renew_card(s, m, 365).card_valid_until
        assert after - before == timedelta(days=365)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_phone_normalisation_is_stable(number: str):
    norm = identity.phone(number)
    assert norm == "+86" + number
    assert identity.phone(norm) == norm
    assert identity.phone(f"{number[:3]} {number[3:7]}-{number[7:]}") == norm
    masked = identity.mask_phone(norm)
    assert masked.startswith(number[:3]) and masked.endswith(number[-4:]) and "****" in masked


@given(st.integers(min_value=0, max_value=10**13 - 1))
def test_card_numbers_catch_any_single_wrong_digit(n: int):
    body = f"88{n:013d}"
    no = body + identity._luhn_digit(body)
    assert identity.card_no(no) == no
    pos = n % 16
    wrong = no[:pos] + str((int(no[pos]) + 1 + n % 9) % 10) + no[pos + 1 :]
    if wrong != no:
        with pytest.raises(identity.IdentityError):
            identity.card_no(wrong)


def test_changing_nothing_writes_no_history(db: Database, members: Members):
    m = register(db, members, "13400134000", name="韩梅梅")
    with db.transaction() as s:
        members.update(s, m, Changes(name="韩梅梅"))
        members.update(s, m, Changes(marketing_consent=True))
        kinds = [h["kind"] for h in members.history(s, m)]
    assert kinds == ["updated", "registered"]


def test_the_rules_find_members_by_birth_month_though_the_birthday_is_sealed(
    db: Database, members: Members, till: Till
):
    """The analytics rule language's birthday_month reads the month kept in clear."""
    from hub.analytics import facts, segments

    may = register(db, members, "13700000011", birthday="1990-05-17")
    others = [register(db, members, "13700000012", birthday="1985-06-01")]
    others.append(register(db, members, "13700000013"))
    for m in (may, *others):  # the rules see members with a purchase (member_facts)
        till.send(till.sale(member=m))
    with db.transaction() as s:
        sid = segments.create(s, "may", "birthday_month = 5").id
        unknown = segments.create(s, "unknown", "birthday_month is null").id
    with db.transaction() as s:  # the daily job: everybody's facts, then the stays
        facts.refresh(s, tiers.today(s))
        segments.full(s, tiers.today(s))
    with db.transaction() as s:
        assert segments.members_of(s, sid) == {may}
        assert segments.members_of(s, unknown) == {others[1]}
