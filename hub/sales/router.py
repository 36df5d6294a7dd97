from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.deps import session
from hub.inputs import When, errors
from hub.sales import reads
from hub.sales.models import Refund, RefundIssue, Sale

router = APIRouter(tags=["sales"], responses=errors(404))
Db = Annotated[Session, Depends(session)]


@router.get("/stores/{store_id}/sales")
def list_sales(
    store_id: str,
    db: Db,
    since: Annotated[When | None, Query(description="occurred_at >= (UTC, ISO 8601)")] = None,
    until: Annotated[When | None, Query(description="occurred_at < (UTC, ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(description="the next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Sales of a store, oldest first, paged by a cursor (stable while sales keep arriving)."""
    for ts in (since, until):
        if ts is not None and ts.tzinfo is None:
            raise HTTPException(422, "since/until need a UTC offset, e.g. 2026-11-23T00:00:00Z")
    q = select(Sale).where(Sale.store_id == store_id)
    if since:
        q = q.where(Sale.occurred_at >= since)
    if until:
        q = q.where(Sale.occurred_at < until)
    if after:
        cursor = db.get(Sale, after)
        if cursor is None:
            raise HTTPException(422, "unknown cursor")
        q = q.where(
            or_(
                Sale.occurred_at > cursor.occurred_at,
                and_(Sale.occurred_at == cursor.occurred_at, Sale.id > cursor.id),
            )
        )
    rows = list(db.scalars(q.order_by(Sale.occurred_at, Sale.id).limit(limit)))
    return {
        "sales": [reads.summary(s) for s in rows],
        "next_cursor": rows[-1].id if len(rows) == limit else None,
    }


@router.get("/sales/{sale_id}")
def get_sale(sale_id: str, db: Db) -> dict[str, Any]:
    found = reads.sale(db, sale_id)
    if found is None:
        raise HTTPException(404, f"no sale {sale_id}")
    return found


def _refund(r: Refund | RefundIssue) -> dict[str, Any]:
    return {
        "id": r.id,
        "sale_id": r.sale_id,
        "store": r.store_id,
        "gateway": r.gateway_id,
        "lane": r.lane,
        "cashier": r.cashier,
        "occurred_at": r.occurred_at,
        "total_fen": r.total_fen,
        "lines": r.lines,
        "payments": r.payments,
        "claim_id": r.claim_id,
    }


@router.get("/refunds/unmatched")
def unmatched_refunds(db: Db, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Refunds whose sale has not reached the hub yet (another store refunded while the
    selling gateway was away), oldest first; each is checked when its sale arrives."""
    rows = db.scalars(
        select(Refund)
        .where(Refund.status == "unmatched")
        .order_by(Refund.occurred_at, Refund.id)
        .limit(limit)
    )
    return {"refunds": [_refund(r) for r in rows]}


@router.get("/refunds/issues")
def refund_issues(db: Db, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Refunds the hub refused to book (beyond what was sold, a SKU not in the sale, not a
    sale id), newest first, with the reason: paid out at a till, to be settled by someone."""
    rows = db.scalars(
        select(RefundIssue).order_by(RefundIssue.found_at.desc(), RefundIssue.id).limit(limit)
    )
    return {"issues": [{**_refund(r), "reason": r.reason, "found_at": r.found_at} for r in rows]}
