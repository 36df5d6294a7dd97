"""Segments follow the sales as they arrive: after the sales books and loyalty have applied a
batch, the facts of its members are rebuilt and their segment stays brought up to date, in
the batch's transaction. This is analytics, not the books: it runs in a savepoint, and should
it fail for anything but the database being away, the batch is booked anyway (logged; the
daily job repairs it) — a sale is never rejected for an analytics fault."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

import hub.loyalty.ingest  # registered first: analytics reads what loyalty wrote
import hub.sales.service  # noqa: F401 - registered first: the sales are booked before this
from hub.analytics import common, facts, segments
from hub.analytics.models import Segment
from hub.sales.models import Sale
from protocols.envelope import Envelope

log = logging.getLogger(__name__)


def _members(s: Session, envs: list[Envelope]) -> set[str]:
    named = {e.body["member_id"] for e in envs if e.body.get("member_id")}
    refunded = {e.body["sale_id"] for e in envs if e.type == "sale.refunded"}
    if refunded:
        named |= {m for m in s.scalars(select(Sale.member_id).where(Sale.id.in_(refunded))) if m}
    return named


def follow_sales(s: Session, envs: list[Envelope]) -> None:
    named = _members(s, envs)
    if not named or s.scalar(select(Segment.id).where(Segment.active).limit(1)) is None:
        return  # nobody to follow, or no segment to follow them into
    try:
        with s.begin_nested():
            owners = facts.owners(s, named)
            as_of = common.today(s)
            facts.refresh(s, as_of, owners)
            segments.refresh(s, as_of, owners)
    except (OperationalError, InterfaceError):
        raise  # the database is away: ingest retries the pass
    except (SQLAlchemyError, DBAPIError, ValueError):
        log.exception("segments not updated for %d member(s); the daily job will", len(named))
