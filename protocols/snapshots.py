"""Versioned configuration snapshots the hub publishes, retained, on
`storegw/v1/{store}/config/{kind}`: catalog, prices, promotions, tiers. A gateway validates a
snapshot completely (schema, store, kind, digest) before it replaces the one it holds, and
only ever moves to a higher version."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from protocols.pricing import rules
from protocols.strict import Invalid, convert, to_json

Kind = Literal["catalog", "prices", "promotions", "tiers"]
KINDS: tuple[str, ...] = ("catalog", "prices", "promotions", "tiers")
Fen = Annotated[int, Meta(ge=0)]


class SnapshotError(ValueError):
    pass


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class Item(_Strict, kw_only=True):
    sku: Annotated[str, Meta(min_length=1, max_length=200)]
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    category: str | None = None
    unit: Literal["piece", "kg"] = "piece"
    barcodes: list[str] = []
    cost_fen: Fen | None = None  # per unit: the pricing engine's margin floor


class CatalogData(_Strict, kw_only=True):
    items: list[Item]


class PricesData(_Strict, kw_only=True):
    prices: dict[str, Fen]  # sku → unit price (per piece, or per kg for weighed goods)


class Promotion(_Strict, kw_only=True):
    """A typed promotion: `rule` is validated by the pricing engine's own types for `kind`
    (protocols/pricing/rules.py), so a store never holds a rule its engine cannot evaluate."""

    id: int
    name: str
    kind: str
    rule: dict[str, Any]
    group: str | None = None  # mutually exclusive with the others of its group
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        self.rule = rules.rule_fields(rules.check_rule(self.kind, self.rule))


class PromotionsData(_Strict, kw_only=True):
    promotions: list[Promotion]


class Tier(_Strict, kw_only=True):
    code: str
    name: str
    rank: int
    discount_pct: Annotated[int, Meta(ge=1, le=100)]
    points_multiplier_pct: Annotated[int, Meta(ge=0)]
    birthday_gift: bool = False


class TiersData(_Strict, kw_only=True):
    tiers: list[Tier]


DATA: dict[str, type[_Strict]] = {
    "catalog": CatalogData,
    "prices": PricesData,
    "promotions": PromotionsData,
    "tiers": TiersData,
}


class Snapshot(_Strict, kw_only=True):
    store: str
    kind: Kind
    version: Annotated[int, Meta(ge=1)]
    sha256: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    created_at: datetime
    data: dict[str, Any]


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


def check_data(kind: str, data: Any) -> dict[str, Any]:
    """The data of one kind, validated and normalised (JSON mode)."""
    model = DATA.get(kind)
    if model is None:
        raise SnapshotError(f"unknown snapshot kind {kind!r} (known: {', '.join(KINDS)})")
    try:
        return to_json(convert(data, model))  # type: ignore[no-any-return]
    except Invalid as err:
        raise SnapshotError(f"bad {kind} data at {err.loc}: {err.msg}") from None


def build(store: str, kind: str, version: int, data: Any, created_at: datetime) -> Snapshot:
    clean = check_data(kind, data)
    return Snapshot(
        store=store,
        kind=kind,  # type: ignore[arg-type]
        version=version,
        sha256=digest(clean),
        created_at=created_at,
        data=clean,
    )


def encode(snap: Snapshot) -> bytes:
    return json.dumps(to_json(snap), ensure_ascii=False).encode()


def parse(payload: bytes, store: str, kind: str) -> Snapshot:
    """A received snapshot, trusted only if everything checks out for this store and kind."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise SnapshotError(f"snapshot is not JSON: {err}") from None
    try:
        snap = convert(doc, Snapshot)
    except Invalid as err:
        raise SnapshotError(f"bad snapshot at {err.loc or 'snapshot'}: {err.msg}") from None
    if snap.store != store:
        raise SnapshotError(f"snapshot for store {snap.store!r} arrived for {store!r}")
    if snap.kind != kind:
        raise SnapshotError(f"snapshot of kind {snap.kind!r} arrived on the {kind!r} topic")
    clean = check_data(kind, snap.data)
    if digest(clean) != snap.sha256:
        raise SnapshotError("snapshot digest does not match its data")
    return snap
