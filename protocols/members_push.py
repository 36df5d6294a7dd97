"""The store's recent members, pushed by the hub so a lane identifies them with the hub away
(issue 12). Retained on `storegw/v1/{store}/config/members` (a store's gateways may read its
config topics, no other store's), as a versioned, incremental snapshot:

- `version` is the store's push version; every change of a member's entry (tier, points, name,
  card, phone; a member leaving the recent set; an erasure) takes the next version;
- the message holds every change after `since` (0: the whole set — the receiver then drops
  pushed members it does not list). A gateway holding `since <= v` applies it; one behind
  `since` keeps what it holds and reports its version, and the hub's next message starts there.

Only what a lane needs: the member id (the member QR carries it), a masked name, the tier,
points as of a time, and keyed hashes (HMAC-SHA256 under the store's member key, which the
gateway fetches over its RPC path, `members.cache_key`) of the phone's digits and of the card
number: neither the message nor the gateway's cache holds a phone or a card number in clear."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from protocols.strict import Invalid, decode

KIND = "members"  # the config leaf; not one of protocols.snapshots.KINDS (its own format)
MAX_ENTRIES = 20_000  # a message never lists more (the hub's cap per store is below it)
Mac = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
MemberId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class PushError(ValueError):
    pass


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class Entry(_Strict, kw_only=True):
    member_id: MemberId
    name: Annotated[str, Meta(max_length=8)] | None = None  # masked: "周*"
    tier: str | None = None
    tier_name: str | None = None
    discount_pct: Annotated[int, Meta(ge=1, le=100)] = 100
    points: int = 0
    points_available: int = 0
    points_as_of: datetime
    card_valid: bool = True
    phone_mac: Mac | None = None
    card_mac: Mac | None = None


class Push(_Strict, kw_only=True):
    store: str
    kind: str = KIND
    since: Annotated[int, Meta(ge=0)]
    version: Annotated[int, Meta(ge=1)]
    key_id: Annotated[str, Meta(min_length=1, max_length=16)]  # which store key made the macs
    created_at: datetime
    upserts: Annotated[list[Entry], Meta(max_length=MAX_ENTRIES)] = []
    removes: Annotated[list[MemberId], Meta(max_length=MAX_ENTRIES)] = []

    def __post_init__(self) -> None:
        if self.since >= self.version:
            raise ValueError(f"since: {self.since} is not below the version {self.version}")


def phone_digits(text: str) -> str:
    """The part of a phone both sides hash: its last 11 digits ('+86 138-0013-8000' and
    '13800138000' are one)."""
    return re.sub(r"\D", "", text)[-11:]


def mac(key: bytes, field: str, value: str) -> str:
    return hmac.new(key, f"{field}:{value}".encode(), hashlib.sha256).hexdigest()


def phone_mac(key: bytes, phone: str) -> str:
    return mac(key, "phone", phone_digits(phone))


def card_mac(key: bytes, card_no: str) -> str:
    return mac(key, "card", re.sub(r"[\s-]", "", card_no))


def mask_name(name: str | None) -> str | None:
    """The first character and a star: enough for the cashier to greet, nothing more."""
    name = (name or "").strip()
    return f"{name[0]}*" if name else None


def encode(push: Push) -> bytes:
    return msgspec.json.encode(push)


def parse(payload: bytes, store: str) -> Push:
    try:
        push = decode(payload, Push)
    except Invalid as err:
        raise PushError(f"bad members push at {err.loc or 'push'}: {err.msg}") from None
    if push.store != store:
        raise PushError(f"members push for store {push.store!r} arrived for {store!r}")
    if push.kind != KIND:
        raise PushError(f"a {push.kind!r} message on the members topic")
    return push
