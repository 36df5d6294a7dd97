"""The contract's checked types are msgspec Structs (issue 10: one validation library for the
contract; pydantic only where the hub's FastAPI needs a schema). `convert` and `decode` check
data strictly against one and fail with `Invalid`, which says where (`lines.0.total_fen`, as
the lanes and the hub have always reported it) and what is wrong."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<loc>[^`]*)`)?$", re.DOTALL)


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
        return cls(loc, m["msg"])


def convert(data: Any, type_: type[T]) -> T:
    """`data` (JSON-shaped: dicts, lists, strings …) checked into `type_`, or Invalid."""
    try:
        return msgspec.convert(data, type_)
    except msgspec.ValidationError as err:
        raise Invalid.of(err) from None


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
