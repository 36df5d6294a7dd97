"""A member's rights over their personal data (个人信息保护法): a copy of it (export, JSON) and
its erasure. Erasure wipes every personal field of the profile and of the profiles merged into
it (their sealed copies too), so the phone and ID number no longer open nor find anyone; what
remains is the random member id, a pseudonym, under which the sales, points, coupons and tier
stay, so the books still add up. Both are audited by the router (who asked, for whom; never
the data itself: the audit log cannot be erased)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.members.models import Member
from hub.members.service import MemberError, Members

PERSONAL = ("name", "phone", "id_number", "birthday", "tags", "marketing_consent")


def pseudonym(member_id: str) -> str:
    return f"erased-{member_id[:8]}"


def export(svc: Members, s: Session, member_id: str) -> dict[str, Any]:
    """Everything the hub holds about the person: profile in clear, merged profiles, history."""
    m = svc.get(s, member_id)
    merged = s.scalars(select(Member).where(Member.merged_into == m.id).order_by(Member.id))
    return {
        "member_id": m.id,
        "exported_at": utcnow(),
        "profile": _personal(svc, m),
        "merged_profiles": [_personal(svc, x) for x in merged],
        "history": svc.history(s, m.id, limit=10_000),
    }


def _personal(svc: Members, m: Member) -> dict[str, Any]:
    return {
        **svc.view(m),
        **svc.contact(m),  # phone and ID number in clear: it is their own data
        "consent_at": m.consent_at,
        "erased_at": m.erased_at,
    }


def erase(svc: Members, s: Session, member_id: str) -> dict[str, Any]:
    """Wipe the personal fields; returns which kinds of data were present (not the data)."""
    m = svc.get(s, member_id)
    if m.erased_at is not None:
        raise MemberError(f"member {m.id} was erased at {m.erased_at.isoformat()}")
    now = utcnow()
    rows = [m, *s.scalars(select(Member).where(Member.merged_into == m.id))]
    wiped = sorted(
        {
            f
            for r in rows
            for f, v in (
                ("name", r.name or r.name_sealed),
                ("phone", r.phone_sealed),
                ("id_number", r.id_no_sealed),
                ("birthday", r.birthday_sealed or r.birthday_clear),
                ("tags", r.tags_sealed or r.tags_clear),
                ("marketing_consent", r.marketing_consent),
            )
            if v
        }
    )
    for r in rows:
        r.name = r.name_sealed = None
        r.phone_sealed = r.phone_index = None
        r.id_no_sealed = r.id_no_index = None
        r.birthday_clear = r.birthday_sealed = r.birth_month = None
        r.tags_clear, r.tags_sealed = [], None
        r.marketing_consent = False
        r.consent_at = None
        r.erased_at = now
        r.updated_at = now
    s.flush()
    svc._history(s, m.id, "erased", {"fields": wiped, "profiles": len(rows)})
    return {"member_id": m.id, "pseudonym": pseudonym(m.id), "erased_at": now, "wiped": wiped}
