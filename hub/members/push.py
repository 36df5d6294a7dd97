"""Each store's recent members, pushed to its gateways so a lane identifies them with the hub
away (issue 12; the message: protocols/members_push.py).

A store's set: members who bought there in the last `recent_days` days (newest first), then
members whose home store it is (`origin_store`), at most `max_members` — never erased or merged
profiles. `refresh` compares each member with what was last pushed (a digest of what the entry
is built from) and gives every change of one run the store's next version: a new or changed
member (tier, points, card, name, phone) an entry, a member who left the set a removal, and an
erased member a removal for *every* store (a gateway may hold them from its own look-ups).
`publish` sends the changes after the oldest version the store's gateways report holding
(0 = the whole set), retained on the store's config topic. Removals are forgotten once every
gateway of the store holds a version past them; erasures are kept, so one is sent once per
store."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.catalog.models import GatewaySnapshot
from hub.catalog.service import Publish
from hub.db import Database, utcnow
from hub.loyalty.models import PointsAccount
from hub.members.models import Member, MemberPushEntry, MemberPushState
from hub.members.service import Members
from hub.members.vault import VaultError
from hub.sales.models import Sale
from hub.stores.models import Store
from hub.tiers import service as tiers
from protocols import members_push, topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    recent_days: int = 30  # bought at the store within this many days
    max_members: int = 5000  # per store: the gateway's cache and the message stay bounded

    @classmethod
    def from_env(cls) -> Settings:
        """STOREGW_MEMBER_PUSH_DAYS, STOREGW_MEMBER_PUSH_MAX (docs/lanes.md)."""
        got = cls(
            recent_days=int(os.environ.get("STOREGW_MEMBER_PUSH_DAYS", cls.recent_days)),
            max_members=int(os.environ.get("STOREGW_MEMBER_PUSH_MAX", cls.max_members)),
        )
        if not (1 <= got.recent_days <= 3650 and 1 <= got.max_members <= members_push.MAX_ENTRIES):
            raise ValueError(
                f"member push: days 1..3650 and max 1..{members_push.MAX_ENTRIES}, got {got}"
            )
        return got


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


def cache_key(members: Members, store: str) -> dict[str, str]:
    """What `members.cache_key` answers a store's gateway (over its own RPC reply topic)."""
    key = members.vault.store_key(store)
    return {"key": key.hex(), "key_id": key_id(key)}


def recent_ids(s: Session, store: str, cfg: Settings, now: datetime) -> list[str]:
    """The store's set, best first: recent buyers (by their last purchase), then home members."""
    last = func.max(Sale.occurred_at)
    bought = s.execute(
        select(Sale.member_id, last)
        .where(
            Sale.store_id == store,
            Sale.member_id.is_not(None),
            Sale.occurred_at >= now - timedelta(days=cfg.recent_days),
        )
        .group_by(Sale.member_id)
        .order_by(last.desc())
        .limit(cfg.max_members * 2)  # some may be merged or erased
    ).all()
    ids = [m for m, _ in bought]
    home = s.scalars(
        select(Member.id)
        .where(Member.origin_store == store, Member.status == "active", Member.erased_at.is_(None))
        .order_by(Member.updated_at.desc())
        .limit(cfg.max_members)
    ).all()
    # a sale may name a profile merged since: its survivor stands in
    merged = dict(
        s.execute(
            select(Member.id, Member.merged_into).where(
                Member.id.in_(ids), Member.merged_into.is_not(None)
            )
        ).all()
    )
    out: dict[str, None] = {}
    for m in [merged.get(i, i) for i in ids] + list(home):
        out.setdefault(m)
    live = set(
        s.scalars(
            select(Member.id).where(
                Member.id.in_(list(out)), Member.status == "active", Member.erased_at.is_(None)
            )
        )
    )
    return [m for m in out if m in live][: cfg.max_members]


def _source(m: Member, tier: Any, acct: PointsAccount | None, now: datetime) -> str:
    parts = [
        m.id,
        (m.name_sealed or b"").hex(),
        m.name or "",
        m.phone_index or "",
        m.card_no,
        str(m.card_valid_until > now),
        tier.code if tier else "",
        f"{tier.name}|{tier.discount_pct}" if tier else "",
        f"{acct.balance}|{acct.held}" if acct else "0|0",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _entry(
    members: Members, key: bytes, m: Member, tier: Any, acct: PointsAccount | None, now: datetime
) -> dict[str, Any]:
    try:
        phone, name = members.contact(m)["phone"], members.name_of(m)
    except VaultError as err:  # the wrong member key: push what is known without them
        log.error("member %s pushed without name and phone: %s", m.id, err)
        phone = name = None
    balance, held = (acct.balance, acct.held) if acct else (0, 0)
    entry = members_push.Entry(
        member_id=m.id,
        name=members_push.mask_name(name),
        tier=tier.code if tier else None,
        tier_name=tier.name if tier else None,
        discount_pct=tier.discount_pct if tier else 100,
        points=balance,
        points_available=balance - held,
        points_as_of=now,
        card_valid=m.card_valid_until > now,
        phone_mac=members_push.phone_mac(key, phone) if phone else None,
        card_mac=members_push.card_mac(key, m.card_no),
    )
    return msgspec.to_builtins(entry)  # type: ignore[no-any-return]


def _state(s: Session, store: str) -> MemberPushState:
    st = s.scalars(
        select(MemberPushState).where(MemberPushState.store_id == store).with_for_update()
    ).first()
    if st is None:
        st = MemberPushState(store_id=store, version=0, published_version=0, published_since=0)
        s.add(st)
        s.flush()
    return st


def refresh_store(
    s: Session, members: Members, store: str, cfg: Settings, now: datetime | None = None
) -> int:
    """Record the store's changes under its next version; returns how many members changed."""
    now = now or utcnow()
    st = _state(s, store)
    nxt = st.version + 1
    key = members.vault.store_key(store)
    want = recent_ids(s, store, cfg, now)
    have = {
        e.member_id: e
        for e in s.scalars(select(MemberPushEntry).where(MemberPushEntry.store_id == store))
    }
    rows = {m.id: m for m in s.scalars(select(Member).where(Member.id.in_(want)))}
    tier_of = tiers.current(s, want)
    accts = {
        a.member_id: a
        for a in s.scalars(select(PointsAccount).where(PointsAccount.member_id.in_(want)))
    }
    changed = 0
    for mid in want:
        m, tier, acct = rows[mid], tier_of.get(mid), accts.get(mid)
        src = _source(m, tier, acct, now)
        e = have.get(mid)
        if e is not None and e.reason == "recent" and e.source == src:
            continue
        payload = _entry(members, key, m, tier, acct, now)
        if e is None:
            e = MemberPushEntry(store_id=store, member_id=mid)
            s.add(e)
        e.version, e.reason, e.source, e.payload, e.updated_at = nxt, "recent", src, payload, now
        changed += 1
    wanted = set(want)
    erased = set(
        s.scalars(
            select(Member.id).where(
                Member.erased_at.is_not(None),
                Member.id.not_in(
                    select(MemberPushEntry.member_id).where(
                        MemberPushEntry.store_id == store, MemberPushEntry.reason == "erased"
                    )
                ),
            )
        )
    )
    for mid, e in have.items():
        if e.reason == "recent" and mid not in wanted and mid not in erased:
            e.version, e.reason, e.source, e.payload, e.updated_at = nxt, "left", None, None, now
            changed += 1
    for mid in erased:
        e = have.get(mid)
        if e is None:
            e = MemberPushEntry(store_id=store, member_id=mid)
            s.add(e)
        e.version, e.reason, e.source, e.payload, e.updated_at = nxt, "erased", None, None, now
        changed += 1
    if changed:
        st.version = nxt
        log.info("member push for %s: %s change(s), version %s", store, changed, nxt)
    return changed


def held_floor(s: Session, store: str, version: int) -> int:
    """The oldest push version a gateway of the store holds (0: one holds none, or one holds a
    version this hub never made — a restored hub database)."""
    gateways = set(
        s.scalars(select(GatewaySnapshot.gateway_id).where(GatewaySnapshot.store_id == store))
    )
    held = dict(
        s.execute(
            select(GatewaySnapshot.gateway_id, GatewaySnapshot.version).where(
                GatewaySnapshot.store_id == store, GatewaySnapshot.kind == members_push.KIND
            )
        ).all()
    )
    if not gateways:
        return 0
    floor = min(held.get(g, 0) for g in gateways)
    return floor if floor <= version else 0


def message(s: Session, store: str, since: int, version: int, key: str, now: datetime) -> bytes:
    changes = s.scalars(
        select(MemberPushEntry)
        .where(MemberPushEntry.store_id == store, MemberPushEntry.version > since)
        .order_by(MemberPushEntry.version, MemberPushEntry.member_id)
    ).all()
    body = {
        "store": store,
        "since": since,
        "version": version,
        "key_id": key,
        "created_at": now.isoformat(),
        "upserts": [e.payload for e in changes if e.payload is not None],
        "removes": [e.member_id for e in changes if e.payload is None],
    }
    # built through the contract's own type: what the gateways will check, checked here first
    return members_push.encode(msgspec.convert(body, members_push.Push))


def publish_store(
    s: Session, members: Members, store: str, publish: Publish, everything: bool = False
) -> bool:
    """Send the store's changes the gateways still need, when there is something new for them
    (or `everything`: after a reconnect the broker may have lost the retained message)."""
    st = _state(s, store)
    if st.version == 0:
        return False
    since = min(held_floor(s, store, st.version), st.version - 1)
    fresh = st.version > st.published_version or since < st.published_since
    if not (fresh or everything):
        return False
    now = utcnow()
    payload = message(s, store, since, st.version, key_id(members.vault.store_key(store)), now)
    publish(topics.config(store, members_push.KIND), payload, 1, True)
    st.published_version, st.published_since, st.published_at = st.version, since, now
    # removals every gateway has passed are no longer needed (erasures stay: sent once)
    s.execute(
        delete(MemberPushEntry).where(
            MemberPushEntry.store_id == store,
            MemberPushEntry.reason == "left",
            MemberPushEntry.version <= held_floor(s, store, st.version),
        )
    )
    log.info("member push for %s: v%s since %s, %s bytes", store, st.version, since, len(payload))
    return True


def run(
    db: Database,
    members: Members,
    publish: Publish | None,
    cfg: Settings,
    everything: bool = False,
) -> dict[str, int]:
    """Refresh every store's set, commit, then publish: a message never carries a version a
    rollback could take back (and hand to different content), which a gateway holding it
    would then never replace."""
    with db.transaction() as s:
        stores = list(s.scalars(select(Store.id).order_by(Store.id)).all())
        changed = sum(refresh_store(s, members, store, cfg) for store in stores)
    published = 0
    if publish is not None:
        for store in stores:
            with db.transaction() as s:
                published += publish_store(s, members, store, publish, everything)
    return {"changed": changed, "published": published}
