"""Writing and checking the HQ audit log.

`record` is called by a router inside the transaction of the change it describes, so the change
and its entry commit together or not at all. The head row is locked first (SELECT ... FOR UPDATE
on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so two appends never claim
the same seq; the seq primary key and the head trigger would refuse it anyway."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.models import AuditEntry, AuditHead
from hub.auth.principal import Principal
from protocols.audit_chain import Verdict, canonical_json, chain_hash, walk

log = logging.getLogger(__name__)

SYSTEM = "system"  # the actor of a change no one signed in made (CLI, scheduled job)
FIELDS = ("seq", "at", "who", "role", "action", "target", "before", "after", "prev_hash")


def _plain(value: Any) -> Any:
    """JSON-able builtins: datetimes and dates as ISO text, models as their fields (a domain
    module, so msgspec rather than FastAPI's encoder)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump(mode="json")
    return msgspec.to_builtins(value, enc_hook=str)


def entry_hash(row: dict[str, Any]) -> str:
    return chain_hash([row[f] for f in FIELDS])


def actor(who: Principal | None) -> tuple[str, str]:
    """(who, role) as the log names them: an account by name, a key as key:<name>."""
    if who is None:
        return SYSTEM, SYSTEM
    if who.kind == "key":
        return f"key:{who.name}", "api_key"
    return who.name, who.role or ""


def record(
    s: Session,
    who: Principal | None,
    action: str,
    target: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    head = s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    name, role = actor(who)
    row: dict[str, Any] = {
        "seq": head.seq + 1,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "who": name,
        "role": role,
        "action": action,
        "target": str(target)[:200],
        "before": canonical_json(_plain(before)),
        "after": canonical_json(_plain(after)),
        "prev_hash": head.hash,
    }
    entry = AuditEntry(**row, hash=entry_hash(row))
    s.add(entry)
    s.flush()  # the row first: the head trigger checks the head moves onto an existing row
    head.seq, head.hash = entry.seq, entry.hash
    s.flush()
    log.info("audit #%s %s (%s) %s %s (%s)", entry.seq, name, role, action, target, entry.hash[:16])
    return entry


def verify(s: Session) -> Verdict:
    """Walk the whole chain, then hold its end against the head: a row edited, a row deleted
    in the middle, or rows deleted at the end (fewer rows or another last hash than the head
    says) all fail, naming what is wrong."""
    cols = [getattr(AuditEntry, f) for f in (*FIELDS, "hash")]
    rows = s.execute(select(*cols).order_by(AuditEntry.seq)).yield_per(1000)
    verdict = walk((dict(r._mapping) for r in rows), entry_hash)
    if not verdict.ok:
        return verdict
    head = s.get(AuditHead, 1)
    if head is None:
        return Verdict(False, verdict.rows, "the audit head is missing", verdict.head)
    if head.seq != verdict.rows or head.hash != verdict.head:
        return Verdict(
            False,
            verdict.rows,
            f"the head says {head.seq} rows ending in {head.hash[:16]}, the log has"
            f" {verdict.rows} ending in {verdict.head[:16]}: rows were removed at the end",
            verdict.head,
        )
    return verdict


def listing(
    s: Session,
    who: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; `before_seq` pages back. `since`/`until` bound `at` (UTC)."""
    q = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if who:
        q = q.where(AuditEntry.who == who)
    if action:
        q = q.where(AuditEntry.action == action)
    if since:
        q = q.where(AuditEntry.at >= _text(since))
    if until:
        q = q.where(AuditEntry.at < _text(until))
    if before_seq:
        q = q.where(AuditEntry.seq < before_seq)
    return [describe(e) for e in s.scalars(q)]


def _text(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)  # a time without zone is taken as UTC
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "who": e.who,
        "role": e.role,
        "action": e.action,
        "target": e.target,
        "before": e.before,
        "after": e.after,
        "hash": e.hash,
    }
