"""Member rules in one place: one profile per person.

- Registering a phone (or ID number) that already has a profile returns that profile; the
  unique blind index makes a second one impossible even under concurrent registrations.
- Giving a profile a phone or ID number another profile holds merges the two (the older
  profile survives). A merge moves points lot by lot with their expiry dates, debt, coupons,
  tier spend and the higher tier; the absorbed profile stays, marked merged, with its own
  history, and every later event naming it lands on the survivor.
- Phone and ID numbers are sealed with the member's id as associated data; only `contact()`
  opens them, and views show them masked.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import String, cast, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.coupons import service as coupons
from hub.db import utcnow
from hub.inputs import Day, In
from hub.loyalty.service import Ledger, settings
from hub.members import identity
from hub.members.models import CHANNELS, Member, MemberHistory, MemberMerge
from hub.members.survivors import resolve
from hub.members.vault import Vault, VaultError
from hub.tiers import service as tiers
from transport.ids import new_id

log = logging.getLogger(__name__)


class MemberError(Exception):
    """A registration, search or change that cannot be done as asked."""


class MemberNotFound(MemberError):
    """No member by that id, phone or card."""


def survivor(s: Session, member_id: str) -> str:
    """The id of the profile `member_id` lives on now (itself, or the one it was merged into);
    MemberNotFound when there is no such member."""
    owner = resolve(s, [member_id]).get(member_id)
    if owner is None:
        raise MemberNotFound(f"no member {member_id}")
    return owner


Tags = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)]
Identity = Annotated[str, Field(max_length=64)]


class Registration(In):
    name: str | None = Field(default=None, max_length=100)
    phone: Identity | None = None
    id_number: Identity | None = None
    birthday: Day | None = None
    marketing_consent: bool = False
    tags: Tags = Field(default_factory=list)
    channel: Annotated[str, Field(max_length=16)] = "api"
    origin_store: Annotated[str, Field(max_length=64)] | None = None


class Changes(In):
    name: str | None = Field(default=None, max_length=100)
    phone: Identity | None = None
    id_number: Identity | None = None
    birthday: Day | None = None
    marketing_consent: bool | None = None
    tags: Tags | None = None


@dataclass
class Registered:
    member: Member
    created: bool


class Members:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # --- look-ups --------------------------------------------------------------------------
    def get(self, s: Session, member_id: str, *, follow: bool = True) -> Member:
        m = s.get(Member, member_id)
        if m is None:
            raise MemberNotFound(f"no member {member_id}")
        if follow and m.merged_into:
            m = s.get(Member, m.merged_into)
            assert m is not None
        return m

    def find(
        self,
        s: Session,
        *,
        phone: str | None = None,
        id_number: str | None = None,
        card_no: str | None = None,
    ) -> Member | None:
        try:
            if phone is not None:
                idx = self.vault.index("phone", identity.phone(phone))
                m = s.scalars(select(Member).where(Member.phone_index == idx)).first()
            elif id_number is not None:
                idx = self.vault.index("id_no", identity.id_number(id_number))
                m = s.scalars(select(Member).where(Member.id_no_index == idx)).first()
            elif card_no is not None:
                m = s.scalars(
                    select(Member).where(Member.card_no == identity.card_no(card_no))
                ).first()
            else:
                raise MemberError("search by phone, id_number or card_no")
        except identity.IdentityError as err:
            raise MemberError(str(err)) from None
        if m is not None and m.merged_into:
            return self.get(s, m.id)
        return m

    def aliases(self, s: Session, member_id: str) -> list[str]:
        """The member's id and every id merged into it: its whole history."""
        return [member_id, *s.scalars(select(Member.id).where(Member.merged_into == member_id))]

    # --- registration and changes ----------------------------------------------------------
    def register(self, s: Session, reg: Registration, now: datetime | None = None) -> Registered:
        now = now or utcnow()
        if reg.channel not in CHANNELS:
            raise MemberError(f"channel must be one of {', '.join(CHANNELS)}")
        phone = self._norm(identity.phone, reg.phone)
        id_no = self._norm(identity.id_number, reg.id_number)
        if not phone and not id_no:  # the card number is made here: it cannot be the only way
            raise MemberError("a member needs a phone or an ID number to be found by")
        for found in (
            self.find(s, phone=phone) if phone else None,
            self.find(s, id_number=id_no) if id_no else None,
        ):
            if found is not None:
                self._history(s, found.id, "registration_repeated", {"channel": reg.channel})
                return Registered(found, False)
        member_id = new_id()
        cfg = settings(s)
        m = Member(
            id=member_id,
            marketing_consent=reg.marketing_consent,
            consent_at=now if reg.marketing_consent else None,
            channel=reg.channel,
            origin_store=reg.origin_store,
            card_no=self._fresh_card(s),
            card_valid_until=now + timedelta(days=cfg.card_valid_days),
            status="active",
            created_at=now,
            updated_at=now,
        )
        self._set_phone(m, phone)
        self._set_id_no(m, id_no)
        self._set_name(m, reg.name)
        self._set_birthday(m, reg.birthday)
        self._set_tags(m, reg.tags)
        try:
            with s.begin_nested():
                s.add(m)
                s.flush()
        except IntegrityError:
            # a concurrent registration of the same phone won the unique index: use it
            found = self.find(s, phone=phone) if phone else None
            found = found or (self.find(s, id_number=id_no) if id_no else None)
            if found is None:
                raise
            return Registered(found, False)
        tiers.assign_initial(s, member_id, now)
        Ledger(s, now).lock([member_id])
        self._history(
            s, member_id, "registered", {"channel": reg.channel, "store": reg.origin_store}
        )
        coupons.fire(s, "member.registered", member_id, key=f"registered:{member_id}", now=now)
        return Registered(m, True)

    def update(self, s: Session, member_id: str, ch: Changes) -> Member:
        m = self.get(s, member_id)
        changed: list[str] = []
        if ch.phone is not None:
            phone = self._norm(identity.phone, ch.phone)
            other = self.find(s, phone=phone)
            if other is not None and other.id != m.id:
                m = self.merge(s, m.id, other.id, "the same phone number")
            elif other is None:
                self._set_phone(m, phone)
                changed.append("phone")
        if ch.id_number is not None:
            id_no = self._norm(identity.id_number, ch.id_number)
            other = self.find(s, id_number=id_no)
            if other is not None and other.id != m.id:
                m = self.merge(s, m.id, other.id, "the same ID number")
            elif other is None:
                self._set_id_no(m, id_no)
                changed.append("id_number")
        if ch.name is not None and ch.name != self.name_of(m):
            self._set_name(m, ch.name)
            changed.append("name")
        if ch.birthday is not None and ch.birthday != self.birthday_of(m):
            self._set_birthday(m, ch.birthday)
            changed.append("birthday")
        if ch.tags is not None and sorted(set(ch.tags)) != self.tags_of(m):
            self._set_tags(m, ch.tags)
            changed.append("tags")
        if ch.marketing_consent is not None and ch.marketing_consent != m.marketing_consent:
            m.marketing_consent = ch.marketing_consent
            m.consent_at = utcnow()
            changed.append("marketing_consent")
        if changed:
            m.updated_at = utcnow()
            self._history(s, m.id, "updated", {"fields": changed})
        return m

    def renew_card(self, s: Session, member_id: str, days: int | None = None) -> Member:
        m = self.get(s, member_id)
        now = utcnow()
        extend = timedelta(days=days or settings(s).card_valid_days)
        m.card_valid_until = max(m.card_valid_until, now) + extend
        m.updated_at = now
        self._history(s, m.id, "card_renewed", {"valid_until": m.card_valid_until.isoformat()})
        return m

    # --- merging ---------------------------------------------------------------------------
    def merge(self, s: Session, a_id: str, b_id: str, reason: str) -> Member:
        """Merge two profiles of one person; the older one survives. Returns the survivor."""
        a, b = self.get(s, a_id), self.get(s, b_id)
        if a.id == b.id:
            raise MemberError("a member cannot be merged with itself")
        survivor, absorbed = (a, b) if (a.created_at, a.id) <= (b.created_at, b.id) else (b, a)
        merge_id = new_id()
        moved: dict[str, Any] = {}
        moved["points"] = Ledger(s).transfer_all(absorbed.id, survivor.id, merge_id)
        moved["coupons"] = coupons.move_to(s, absorbed.id, survivor.id)
        # the survivor takes what it lacks; the absorbed keeps its sealed copy as history
        if survivor.phone_index is None and absorbed.phone_index is not None:
            phone = self.vault.open("phone", absorbed.id, absorbed.phone_sealed or b"")
            absorbed.phone_index = None
            s.flush()
            self._set_phone(survivor, phone)
        if survivor.id_no_index is None and absorbed.id_no_index is not None:
            id_no = self.vault.open("id_no", absorbed.id, absorbed.id_no_sealed or b"")
            absorbed.id_no_index = None
            s.flush()
            self._set_id_no(survivor, id_no)
        absorbed.phone_index = None
        absorbed.id_no_index = None
        if not self.name_of(survivor) and self.name_of(absorbed):
            self._set_name(survivor, self.name_of(absorbed))
        self._set_birthday(survivor, self.birthday_of(survivor) or self.birthday_of(absorbed))
        self._set_tags(survivor, [*self.tags_of(survivor), *self.tags_of(absorbed)])
        survivor.card_valid_until = max(survivor.card_valid_until, absorbed.card_valid_until)
        absorbed.status = "merged"
        absorbed.merged_into = survivor.id
        now = utcnow()
        survivor.updated_at = absorbed.updated_at = now
        s.flush()
        s.execute(
            update(Member)
            .where(Member.merged_into == absorbed.id)
            .values(merged_into=survivor.id)
            .execution_options(synchronize_session=False)
        )
        tiers.merge(s, survivor.id, absorbed.id)
        s.add(
            MemberMerge(
                id=merge_id,
                survivor_id=survivor.id,
                absorbed_id=absorbed.id,
                reason=reason,
                at=now,
                moved=moved,
            )
        )
        self._history(s, survivor.id, "merged_in", {"from": absorbed.id, "reason": reason})
        self._history(s, absorbed.id, "merged_out", {"into": survivor.id, "reason": reason})
        log.info("member %s merged into %s (%s): %s", absorbed.id, survivor.id, reason, moved)
        return survivor

    # --- views -----------------------------------------------------------------------------
    def view(self, m: Member) -> dict[str, Any]:
        try:
            contact: dict[str, str | None] = {**self._contact(m), "name": self.name_of(m)}
            birthday, tags = self.birthday_of(m), self.tags_of(m)
        except VaultError as err:  # the wrong member key: say so, show the rest
            log.error("member %s: %s", m.id, err)
            contact = {"phone": None, "id_number": None, "name": None}
            birthday, tags = None, []
        now = utcnow()
        return {
            "id": m.id,
            "name": contact["name"],
            "phone": identity.mask_phone(contact["phone"]) if contact["phone"] else None,
            "id_number": identity.mask_id(contact["id_number"]) if contact["id_number"] else None,
            "birthday": birthday,
            "marketing_consent": m.marketing_consent,
            "consent_at": m.consent_at,
            "tags": tags,
            "channel": m.channel,
            "origin_store": m.origin_store,
            "card": {
                "no": m.card_no,
                "valid_until": m.card_valid_until,
                "valid": m.card_valid_until > now,
            },
            "status": m.status,
            "merged_into": m.merged_into,
            "erased": m.erased_at is not None,
            "created_at": m.created_at,
        }

    def contact(self, m: Member) -> dict[str, str | None]:
        """Phone and ID number in clear, for the member's own requests and HQ service."""
        return self._contact(m)

    def _contact(self, m: Member) -> dict[str, str | None]:
        phone = self.vault.open("phone", m.id, m.phone_sealed) if m.phone_sealed else None
        id_no = self.vault.open("id_no", m.id, m.id_no_sealed) if m.id_no_sealed else None
        return {"phone": phone, "id_number": id_no}

    def name_of(self, m: Member) -> str | None:
        """The member's name, opened (a profile from before 0008 may still hold it in clear
        until `seal_clear_fields` ran at the hub's start)."""
        return self.vault.open("name", m.id, m.name_sealed) if m.name_sealed else m.name

    def _set_name(self, m: Member, name: str | None) -> None:
        m.name_sealed = self.vault.seal("name", m.id, name) if name else None
        m.name = None

    def birthday_of(self, m: Member) -> date | None:
        """The birthday, opened (before 0013 it may still be in clear until the hub's start)."""
        if m.birthday_sealed:
            return self.open_birthday(m.id, m.birthday_sealed)
        return m.birthday_clear

    def open_birthday(self, member_id: str, blob: bytes) -> date:
        return date.fromisoformat(self.vault.open("birthday", member_id, blob))

    def tags_of(self, m: Member) -> list[str]:
        return self.open_tags(m.id, m.tags_sealed) if m.tags_sealed else list(m.tags_clear or [])

    def open_tags(self, member_id: str, blob: bytes) -> list[str]:
        return list(json.loads(self.vault.open("tags", member_id, blob)))

    def _set_birthday(self, m: Member, day: date | None) -> None:
        # the month stays in clear (the multiplier, the gift job, the rule language), no more
        m.birthday_sealed = self.vault.seal("birthday", m.id, day.isoformat()) if day else None
        m.birth_month = day.month if day else None
        m.birthday_clear = None

    def _set_tags(self, m: Member, tags: list[str]) -> None:
        ordered = sorted(set(tags))
        m.tags_sealed = self.vault.seal("tags", m.id, json.dumps(ordered)) if ordered else None
        m.tags_clear = []

    def seal_clear_fields(self, s: Session) -> int:
        """Seal the names (before migration 0008), birthdays and tags (before 0013) stored in
        clear; run at every start: the migrations cannot, having no key."""
        rows = list(
            s.scalars(
                select(Member).where(
                    or_(
                        Member.name.is_not(None),
                        Member.birthday_clear.is_not(None),
                        cast(Member.tags_clear, String) != "[]",
                    )
                )
            )
        )
        for m in rows:
            if m.name is not None:
                self._set_name(m, m.name)
            if m.birthday_clear is not None:
                self._set_birthday(m, m.birthday_clear)
            if m.tags_clear != []:
                sealed = self.open_tags(m.id, m.tags_sealed) if m.tags_sealed else []
                self._set_tags(m, [*(m.tags_clear or []), *sealed])
        if rows:
            log.info("sealed the clear personal fields of %d members", len(rows))
        return len(rows)

    def history(self, s: Session, member_id: str, limit: int = 200) -> list[dict[str, Any]]:
        ids = self.aliases(s, member_id)
        rows = s.scalars(
            select(MemberHistory)
            .where(MemberHistory.member_id.in_(ids))
            .order_by(MemberHistory.id.desc())
            .limit(limit)
        )
        return [
            {"member_id": h.member_id, "at": h.at, "kind": h.kind, "detail": h.detail} for h in rows
        ]

    # --- internals -------------------------------------------------------------------------
    @staticmethod
    def _norm(fn: Any, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(fn(value))
        except identity.IdentityError as err:
            raise MemberError(str(err)) from None

    def _set_phone(self, m: Member, phone: str | None) -> None:
        if phone is None:
            return
        m.phone_sealed = self.vault.seal("phone", m.id, phone)
        m.phone_index = self.vault.index("phone", phone)

    def _set_id_no(self, m: Member, id_no: str | None) -> None:
        if id_no is None:
            return
        m.id_no_sealed = self.vault.seal("id_no", m.id, id_no)
        m.id_no_index = self.vault.index("id_no", id_no)

    @staticmethod
    def _fresh_card(s: Session) -> str:
        while True:
            no = identity.new_card_no()
            if s.scalars(select(Member.id).where(Member.card_no == no)).first() is None:
                return no

    @staticmethod
    def _history(s: Session, member_id: str, kind: str, detail: dict[str, Any]) -> None:
        s.add(MemberHistory(member_id=member_id, kind=kind, detail=detail, at=utcnow()))
