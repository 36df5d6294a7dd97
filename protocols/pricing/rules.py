"""Typed promotion rules: one msgspec Struct per kind, decoded strictly (integers are
integers, unknown fields refused), with the checks a JSON schema cannot state done in
`__post_init__`, so a rule the engine cannot evaluate never reaches it. The hub's promotions
API, its snapshots and the lane all validate through `check_rule` / `promotion`.

Percentages are *off* (like coupons' `percent_off`): 8折 is `percent_off: 20`. Quantities in
multi-buy, bundles and buy-X-get-Y count whole pieces; weighed goods never take part in them.
`skus` / `categories` scope a rule; both empty means every item."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from protocols import bounds

Fen = Annotated[int, msgspec.Meta(ge=0, le=bounds.MAX_FEN)]
PositiveFen = Annotated[int, msgspec.Meta(gt=0, le=bounds.MAX_FEN)]
Percent = Annotated[int, msgspec.Meta(ge=1, le=100)]
Pieces = Annotated[int, msgspec.Meta(ge=1, le=bounds.MAX_QTY_MILLI // 1000)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=bounds.TEXT_LEN)]
Names = Annotated[list[Text], msgspec.Meta(max_length=bounds.MAX_LINES)]


class RuleError(ValueError):
    """A rule the engine cannot evaluate; the message says which field and why."""


class _Rule(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind", kw_only=True
):
    skus: Names = []
    categories: Names = []


class PercentOff(_Rule, tag="percent_off"):
    """X% off each item in scope (a line at a time)."""

    percent_off: Percent


class SpendSave(_Rule, tag="spend_save"):
    """满减: spend `threshold_fen` in scope, save `save_fen`; with `repeat`, once per full
    threshold (满100减20, 200 → 40), at most `cap_fen` if given."""

    threshold_fen: PositiveFen
    save_fen: PositiveFen
    repeat: bool = False
    cap_fen: PositiveFen | None = None

    def __post_init__(self) -> None:
        if self.save_fen > self.threshold_fen:
            raise ValueError("save_fen must not exceed threshold_fen (it would give goods away)")


class Gift(_Rule, tag="gift"):
    """满赠: spend `threshold_fen` in scope, get `gift_qty` pieces of `gift_sku` free (taken
    off its line when it is in the basket, else handed over and listed on the receipt)."""

    gift_sku: Text
    threshold_fen: PositiveFen
    gift_qty: Pieces = 1


class MultiBuy(_Rule, tag="multibuy"):
    """N件M折: every complete group of `n` pieces in scope gets `percent_off`; the pieces
    left over pay full price. Groups take the dearest pieces first (the customer's best)."""

    n: Annotated[int, msgspec.Meta(ge=2, le=1000)]
    percent_off: Percent


class BundleItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sku: Text
    qty: Pieces = 1


class Bundle(_Rule, tag="bundle"):
    """A set for a fixed price: as many complete sets as the basket holds, each `price_fen`.
    (`skus`/`categories` are unused: the set names its items.)"""

    items: Annotated[list[BundleItem], msgspec.Meta(min_length=1, max_length=50)]
    price_fen: Fen

    def __post_init__(self) -> None:
        names = [i.sku for i in self.items]
        if len(set(names)) != len(names):
            raise ValueError("a bundle names each sku once (use qty)")
        if sum(i.qty for i in self.items) < 2:
            raise ValueError("a bundle is at least two pieces")
        if self.skus or self.categories:
            raise ValueError("a bundle is scoped by its items, not skus/categories")


class BuyXGetY(_Rule, tag="buy_x_get_y"):
    """Buy `buy`, get `get` (买二送一): every group of buy+get pieces in scope has its `get`
    cheapest pieces `percent_off` (100: free). Groups take the dearest pieces first."""

    buy: Pieces
    get: Pieces
    percent_off: Percent = 100


Rule = PercentOff | SpendSave | Gift | MultiBuy | Bundle | BuyXGetY
KINDS: tuple[str, ...] = ("percent_off", "spend_save", "gift", "multibuy", "bundle", "buy_x_get_y")
ITEM_KINDS = frozenset({"percent_off", "multibuy", "bundle", "buy_x_get_y"})  # take lines
POOLED_KINDS = frozenset({"multibuy", "bundle", "buy_x_get_y"})  # pieces of several lines
ORDER_KINDS = frozenset({"spend_save", "gift"})  # judged on the basket after item promotions
BY_KIND: dict[str, type[_Rule]] = {
    "percent_off": PercentOff,
    "spend_save": SpendSave,
    "gift": Gift,
    "multibuy": MultiBuy,
    "bundle": Bundle,
    "buy_x_get_y": BuyXGetY,
}


def kind_of(rule: _Rule) -> str:
    return rule.__struct_config__.tag  # type: ignore[return-value]


class Promotion(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A promotion as the engine takes it. Promotions sharing a `group` are mutually
    exclusive: at most one of them applies (the one best for the customer)."""

    id: int
    name: Text
    rule: Rule
    group: Text | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.rule)

    def active(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_until is None or at < self.valid_until
        )


def _reason(err: Exception) -> str:
    return str(err).replace("`$.", "`")


def check_rule(kind: str, rule: Any) -> _Rule:
    """The typed rule for `kind`, or RuleError with the reason."""
    if kind not in BY_KIND:
        raise RuleError(f"unknown promotion kind {kind!r} (known: {', '.join(KINDS)})")
    if not isinstance(rule, dict):
        raise RuleError("rule must be an object")
    if "kind" in rule and rule["kind"] != kind:
        raise RuleError(f"rule.kind {rule['kind']!r} differs from kind {kind!r}")
    try:
        return msgspec.convert({k: v for k, v in rule.items() if k != "kind"}, BY_KIND[kind])
    except msgspec.ValidationError as err:
        raise RuleError(f"{kind} rule: {_reason(err)}") from None


def rule_fields(rule: _Rule) -> dict[str, Any]:
    """The rule as JSON-ready data, without its kind (stored beside it)."""
    out: dict[str, Any] = msgspec.to_builtins(rule)
    out.pop("kind", None)
    return out


def promotion(doc: dict[str, Any]) -> Promotion:
    """A promotion from its JSON form ({id, name, kind, rule, group?, valid_from?, …})."""
    if not isinstance(doc, dict):
        raise RuleError("a promotion must be an object")
    doc = dict(doc)
    rule = check_rule(str(doc.pop("kind", "")), doc.pop("rule", None))
    try:
        return msgspec.convert({**doc, "rule": msgspec.to_builtins(rule)}, Promotion)
    except msgspec.ValidationError as err:
        raise RuleError(f"promotion: {_reason(err)}") from None


def promotions_from_snapshot(data: dict[str, Any]) -> list[Promotion]:
    """The engine's promotions from a `promotions` snapshot's data (as the gateway holds it
    and the hub keeps every version of it)."""
    return [promotion(p) for p in data.get("promotions", [])]


def json_schemas() -> dict[str, Any]:
    """JSON Schema of a rule's fields, one per kind (`anyOf`), from these Structs: for an API
    description (the kind travels beside the rule, so it is left out here)."""

    def inline(node: Any, defs: dict[str, Any]) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
            return {k: inline(v, defs) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v, defs) for v in node]
        return node

    out = []
    for kind, cls in BY_KIND.items():
        doc = msgspec.json.schema(cls)
        schema = inline(doc, doc.get("$defs", {}))
        schema.pop("$defs", None)
        schema["properties"].pop("kind", None)
        schema["required"] = [r for r in schema.get("required", []) if r != "kind"]
        if not schema["required"]:
            schema.pop("required")
        out.append({**schema, "title": kind})
    return {"anyOf": out}
