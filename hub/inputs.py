"""What the hub's API accepts, in one place: strict types (no coercion — `"500"`, `500.0` and
`true` are not 500 fen), integers the database can hold, text without NUL (PostgreSQL cannot
store it), and the error answers each router declares in the OpenAPI.

Every request body model derives from `In`. Its before-validator walks the raw JSON once: an
integer outside int64 (BIGINT, SQLite's INTEGER) or a string with a NUL is a 422 before any
field is looked at. Columns that are 32-bit INTEGER on PostgreSQL take 32-bit bounds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import HTTPException, Path, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)

# Money and points are BIGINT, but they are also summed (balances, baskets, liability): a
# single amount stays far enough below int64 that ten thousand of them still add up in it.
AMOUNT_MAX = 10**15  # fen: ten trillion yuan; points: a quadrillion

Int64 = Annotated[int, Field(strict=True, ge=INT64[0], le=INT64[1])]
Int32 = Annotated[int, Field(strict=True, ge=INT32[0], le=INT32[1])]
Fen = Annotated[int, Field(strict=True, ge=0, le=AMOUNT_MAX)]
Points = Annotated[int, Field(strict=True, ge=-AMOUNT_MAX, le=AMOUNT_MAX)]
# a row id in a path or a query (SERIAL, 32-bit, on PostgreSQL)
RowId = Annotated[int, Path(ge=1, le=INT32[1])]


def _iso_text(v: Any) -> Any:
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return v  # pydantic parses it as ISO 8601 next
    raise ValueError("give an ISO 8601 string (a number is not a date)")


# JSON has no date type: a datetime or a date comes as an ISO 8601 string, parsed, not coerced
When = Annotated[datetime, Field(strict=False), BeforeValidator(_iso_text)]
Day = Annotated[date, Field(strict=False), BeforeValidator(_iso_text)]


def problem(value: Any) -> str | None:
    """What makes a raw JSON value unstorable, if anything (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            if not INT64[0] <= v <= INT64[1]:
                return f"integer {v} is outside the 64-bit range"
        elif isinstance(v, str):
            if "\x00" in v:
                return "text must not contain NUL"
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and "\x00" in k:
                    return "keys must not contain NUL"
                stack.append(x)
        elif isinstance(v, list):
            stack.extend(v)
    return None


class In(BaseModel):
    """A request body: unknown fields refused, no type coercion, storable values only."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        why = problem(data)
        if why:
            raise ValueError(why)
        return data


async def plain_params(request: Request) -> None:
    """Path and query values of every /api route: no NUL (PostgreSQL cannot compare with one,
    and no id or filter has one)."""
    for where, items in (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
    ):
        for name, value in items:
            if isinstance(value, str) and "\x00" in value:
                raise HTTPException(422, f"{where} parameter {name!r} contains NUL")


class Problem(BaseModel):
    """Every error the hub answers: `detail` says why (a list for a body that fails its schema)."""

    detail: str | list[dict[str, Any]]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a router's routes give, for its OpenAPI (`APIRouter(responses=...)`)."""
    what = {
        400: "the body is not JSON",
        401: "missing or wrong bearer token",
        403: "the credential's role or scope may not call this route (hub/auth/policy.py)",
        404: "no such resource",
        409: "conflicts with the current state (taken, used up, already done)",
        422: "invalid input, or refers to something that does not exist",
    }
    return {s: {"model": Problem, "description": what[s]} for s in (400, 401, 403, 422, *statuses)}


# a listing that also comes as CSV (`?format=csv`): both content types declared for its 200
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}
}
