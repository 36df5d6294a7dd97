"""Queue notices in the caller's transaction; send them later, respecting consent and the
store's quiet hours.

- A notice's `key` is unique: the same notice queued twice is queued once (each member told
  once per restock, say), whatever retries or concurrent passes do.
- Consent: a notice the member asked for (`requested`, e.g. a back-in-stock subscription) is
  sent to an active member; any other needs the member's marketing consent, else it is
  `skipped` with the reason.
- Quiet hours are the store's local night (QUIET_FROM to QUIET_UNTIL, store time zone): a
  notice falling due then waits until the morning."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.members.models import Member
from hub.notify.channels import Channel
from hub.notify.models import Notification
from hub.stores.models import Store

log = logging.getLogger(__name__)

QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)
DEFAULT_TZ = "Asia/Shanghai"


def enqueue(s: Session, notices: list[dict[str, Any]], now: datetime) -> None:
    """Each notice: key, member_id, store_id, channel, template, params, requested."""
    if not notices:
        return
    ins = (pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert)(Notification)
    s.execute(
        ins.on_conflict_do_nothing(index_elements=["key"]),
        [{"state": "pending", "not_before": now, "created_at": now, **n} for n in notices],
    )


def quiet_until(now: datetime, tz: str) -> datetime | None:
    """When the quiet hours around `now` end (UTC), or None outside them."""
    local = now.astimezone(ZoneInfo(tz))
    t = local.time()
    if QUIET_UNTIL <= t < QUIET_FROM:
        return None
    day = local.date() if t < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=ZoneInfo(tz)).astimezone(now.tzinfo)


def dispatch(
    s: Session, channels: dict[str, Channel], now: datetime, limit: int = 500
) -> dict[str, int]:
    """Send what is due; returns counts per outcome."""
    due = list(
        s.scalars(
            select(Notification)
            .where(Notification.state == "pending", Notification.not_before <= now)
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    counts = {"sent": 0, "skipped": 0, "deferred": 0}
    zones = dict(s.execute(select(Store.id, Store.tz)).all()) if due else {}
    members = {
        m.id: m for m in s.scalars(select(Member).where(Member.id.in_({n.member_id for n in due})))
    }
    for n in due:
        m = members.get(n.member_id)
        why = None
        if m is None or m.status != "active":
            why = "member not active"
        elif not n.requested and not m.marketing_consent:
            why = "no marketing consent"
        elif n.channel not in channels:
            why = f"no {n.channel} channel"
        if why:
            n.state, n.reason = "skipped", why
            counts["skipped"] += 1
            continue
        later = quiet_until(now, zones.get(n.store_id) or DEFAULT_TZ)
        if later is not None:
            n.not_before = later
            counts["deferred"] += 1
            continue
        try:
            n.reason = channels[n.channel].send(n.member_id, n.template, n.params)
        except Exception as err:  # a provider's failure: leave it pending, try again later
            log.warning("notice %s via %s failed: %s", n.id, n.channel, err)
            n.not_before = now + timedelta(minutes=5)
            continue
        n.state, n.sent_at = "sent", now
        counts["sent"] += 1
    return counts


def listing(s: Session, member_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    q = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if member_id:
        q = q.where(Notification.member_id == member_id)
    return [
        {
            "id": n.id,
            "key": n.key,
            "member_id": n.member_id,
            "channel": n.channel,
            "template": n.template,
            "params": n.params,
            "state": n.state,
            "reason": n.reason,
            "not_before": n.not_before.isoformat(),
            "sent_at": n.sent_at.isoformat() if n.sent_at else None,
        }
        for n in s.scalars(q)
    ]
