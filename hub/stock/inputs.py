"""Body fields the stock, purchasing and pickup APIs share (bounded like the contract)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

from hub.inputs import In
from protocols import bounds, topics

StoreId = Annotated[str, Field(pattern=topics.ID_PATTERN)]
StorePath = Annotated[str, Path(pattern=topics.ID_PATTERN)]
Sku = Annotated[str, Field(min_length=1, max_length=bounds.TEXT_LEN)]
SkuPath = Annotated[str, Path(min_length=1, max_length=bounds.TEXT_LEN)]
Qty = Annotated[int, Field(gt=0, le=bounds.MAX_QTY_MILLI)]
Count = Annotated[int, Field(ge=0, le=bounds.MAX_QTY_MILLI)]
Uuid = Annotated[str, Field(min_length=1, max_length=bounds.UUID_LEN)]
Person = Annotated[str, Field(min_length=1, max_length=bounds.TEXT_LEN)]
Note = Annotated[str, Field(max_length=bounds.REASON_LEN)]


class QtyLine(In):
    sku: Sku
    qty_milli: Qty


def one_per_sku(lines: list[QtyLine]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ln in lines:
        if ln.sku in out:
            raise ValueError(f"sku {ln.sku} is listed twice")
        out[ln.sku] = ln.qty_milli
    return out
