"""The price differences the hub's recompute found, newest last, paged by id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.deps import session
from hub.inputs import errors
from hub.pricing.models import PriceDifference

router = APIRouter(tags=["pricing"], responses=errors(422))
Db = Annotated[Session, Depends(session)]


@router.get("/pricing/differences")
def differences(
    db: Db,
    store: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="next_cursor of the last page")
    ] = 0,
) -> dict[str, Any]:
    """Sales whose booked lines or total the pricing engine does not reproduce."""
    q = select(PriceDifference).where(PriceDifference.id > after)
    if store is not None:
        q = q.where(PriceDifference.store_id == store)
    with db.begin():
        rows = list(db.scalars(q.order_by(PriceDifference.id).limit(limit)))
        return {
            "differences": [
                {
                    "sale_id": r.sale_id,
                    "store": r.store_id,
                    "gateway": r.gateway_id,
                    "receipt_no": r.receipt_no,
                    "promotions_version": r.promotions_version,
                    "booked_total_fen": r.booked_total_fen,
                    "expected_total_fen": r.expected_total_fen,
                    "reason": r.reason,
                    "lines": r.lines,
                    "found_at": r.found_at,
                }
                for r in rows
            ],
            "next_cursor": rows[-1].id if len(rows) == limit else None,
        }
