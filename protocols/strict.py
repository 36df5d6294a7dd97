"""The contract's checked types are msgspec Structs (issue 10: one validation library for the
contract; pydantic only where the hub's FastAPI needs a schema). `convert` and `decode` check
data strictly against one and fail with `Invalid`, which says where (`lines.0.total_fen`, as
the lanes and the hub have always reported it) and what is wrong. A check in a Struct's
`__post_init__` about one field raises ValueError("<field>: why"), so `loc` names the field."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<loc>[^`]*)`)?$", re.DOTALL)
_FIELD = re.compile(r"^Object (?P<what>missing required|contains unknown) field `(?P<name>[^`]*)`$")
_EXTRA = "Extra inputs are not permitted"
_NAMED = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*): (?P<msg>.*)$", re.DOTALL)


class Invalid(ValueError):
    """Data that does not fit its type: `loc` the path into it ("" for the whole), `msg` why."""

    def __init__(self, loc: str, msg: str) -> None:
        super().__init__(f"{loc}: {msg}" if loc else msg)
        self.loc, self.msg = loc, msg

    @classmethod
    def of(cls, err: msgspec.ValidationError) -> Invalid:
        m = _AT.match(str(err))
        assert m is not None  # the pattern matches any text
        loc = re.sub(r"\[(\d+)\]", r".\1", m["loc"] or "").lstrip(".")
        msg = m["msg"]
        if field := _FIELD.match(msg):  # name the field itself, as the pydantic models did
            loc = f"{loc}.{field['name']}".lstrip(".")
            msg = "Field required" if field["what"] == "missing required" else _EXTRA
        elif named := _NAMED.match(msg):  # a __post_init__ check naming the field it is about
            loc, msg = f"{loc}.{named['name']}".lstrip("."), named["msg"]
        return cls(loc, msg)


def convert(data: Any, type_: type[T]) -> T:
    """`data` (JSON-shaped: dicts, lists, strings …) checked into `type_`, or Invalid."""
    try:
        return msgspec.convert(data, type_)
    except msgspec.ValidationError as err:
        bad = Invalid.of(err)
        if bad.msg.startswith("Invalid enum value") and (allowed := _choices(type_, bad.loc)):
            bad = Invalid(bad.loc, f"Input should be {allowed}")  # say what it may be
        raise bad from None


def _choices(type_: Any, loc: str) -> str | None:
    """The values a Literal field at `loc` allows, as "'N', 'E' or 'O'" (None: not one)."""
    from msgspec import inspect  # only on this error path

    t = inspect.type_info(type_)
    for part in loc.split(".") if loc else ():
        if isinstance(t, inspect.UnionType):
            t = next((x for x in t.types if not isinstance(x, inspect.NoneType)), t)
        if isinstance(t, inspect.StructType):
            t = next((f.type for f in t.fields if f.encode_name == part), None)
        elif isinstance(t, inspect.ListType | inspect.DictType):
            t = t.item_type if isinstance(t, inspect.ListType) else t.value_type
        if t is None:
            return None
    if isinstance(t, inspect.UnionType):
        t = next((x for x in t.types if isinstance(x, inspect.LiteralType)), t)
    if not isinstance(t, inspect.LiteralType):
        return None
    names = [repr(v) for v in t.values]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def decode(raw: bytes | str, type_: type[T]) -> T:
    """JSON bytes checked into `type_`, or Invalid (also for bytes that are not JSON)."""
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as err:
        raise Invalid.of(err) from None
    except msgspec.DecodeError as err:
        raise Invalid("", f"not JSON: {err}") from None


def to_json(value: Any) -> Any:
    """A Struct (or anything msgspec encodes) as JSON-ready builtins: dates as ISO strings."""
    return msgspec.to_builtins(value)
