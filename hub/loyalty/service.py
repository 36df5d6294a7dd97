"""The points domain service: every movement of points goes through a `Ledger`, which holds
the invariants in one place.

- Accounts are locked before anything is read or posted (SELECT … FOR UPDATE on PostgreSQL,
  in member-id order so two transactions never deadlock; SQLite's BEGIN IMMEDIATE already
  serialises writers), so a balance read stays true until COMMIT.
- A posting is unique per (source, member, kind): a second delivery of anything is a no-op.
- Debits take from lots first-to-expire first and record which lots they took.
- Nothing goes below zero. A debit that must happen although the points are gone (a refund
  reversing points already spent, a lane redemption whose hold had timed out) takes what is
  available and books the rest as the member's debt, which later earnings settle first — with
  a `loyalty_issues` row and a log line, never silently (docs/loyalty.md, "Refund rule").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.db import bulk_insert, utcnow
from hub.loyalty.models import (
    CREDITS,
    DEBITS,
    LedgerEntry,
    LoyaltyIssue,
    LoyaltySettings,
    PointsAccount,
    PointsAllocation,
    PointsLot,
    PointsReservation,
)
from hub.members.survivors import resolve
from transport.ids import new_id

log = logging.getLogger(__name__)


class PointsError(Exception):
    """The ledger refuses: the state does not allow it (a hold taken, a reservation spent)."""


class InsufficientPoints(PointsError):
    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(f"{wanted} points wanted, {available} available")
        self.wanted, self.available = wanted, available


class NotFound(PointsError):
    """No such member, reservation, rule or item."""


def settings(s: Session) -> LoyaltySettings:
    row = s.get(LoyaltySettings, 1)
    if row is None:  # the migration seeds it; a hand-made database may not have it
        ins = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
        s.execute(ins(LoyaltySettings).values(id=1).on_conflict_do_nothing())
        row = s.get(LoyaltySettings, 1)
        assert row is not None
    return row


def points_value_fen(s: Session, points: int) -> int:
    return points * settings(s).point_value_milli_fen // 1000


def issue(s: Session, kind: str, detail: str, member_id: str | None, source_id: str | None) -> None:
    log.warning("loyalty issue %s (member %s, source %s): %s", kind, member_id, source_id, detail)
    s.add(LoyaltyIssue(kind=kind, member_id=member_id, source_id=source_id, detail=detail))


@dataclass
class Account:
    """A locked account as this transaction sees it; written back by `Ledger.sync()`."""

    member_id: str
    balance: int
    held: int
    debt: int
    dirty: bool = False


@dataclass(frozen=True)
class Entry:
    """A ledger row as posted (the table row is append-only: this is all it will ever be)."""

    id: str
    member_id: str
    kind: str
    points: int
    debt_change: int
    balance_after: int
    source_id: str
    sale_id: str | None
    store_id: str | None


@dataclass
class Posted:
    entry: Entry
    shortfall: int = 0


_ENTRY_COLS = (
    "id",
    "member_id",
    "kind",
    "points",
    "debt_change",
    "balance_after",
    "source_type",
    "source_id",
    "sale_id",
    "store_id",
    "occurred_at",
    "posted_at",
    "detail",
)


class Ledger:
    """One transaction's access to the points ledger. Lock first, then post.

    Writes are plain SQL in bulk: new rows are buffered and written by `sync()`, which every
    public method calls before it returns — except inside `deferred()`, where a whole ingest
    batch is written at once (the account rows stay locked all along)."""

    def __init__(self, s: Session, now: datetime | None = None) -> None:
        self.s = s
        self.now = now or utcnow()
        self.accounts: dict[str, Account] = {}
        self._settings: LoyaltySettings | None = None
        self._posted: set[tuple[str, str, str]] = set()
        self._known_sources: set[str] = set()
        self._entries: list[dict[str, Any]] = []
        self._lots: list[dict[str, Any]] = []
        self._allocations: list[dict[str, Any]] = []
        self._remaining: dict[int, int] = {}  # lot id → remaining, to write
        self._defer = 0
        self._reservations: dict[str, tuple[PointsReservation, str]] = {}

    @property
    def settings(self) -> LoyaltySettings:
        if self._settings is None:
            self._settings = settings(self.s)
        return self._settings

    @property
    def sqlite(self) -> bool:
        return self.s.get_bind().dialect.name == "sqlite"

    # --- locking ---------------------------------------------------------------------------
    def lock(self, member_ids: Iterable[str]) -> None:
        """Lock (and create if need be) the accounts of these members, in id order."""
        ids = sorted(set(member_ids) - self.accounts.keys())
        if not ids:
            return
        self.s.flush()  # a member added in this transaction must exist for the account's FK
        for chunk in _chunks(ids, 500):
            found = self._select(chunk)
            missing = [m for m in chunk if m not in found]
            if missing:
                ins = sqlite_insert if self.sqlite else pg_insert
                self.s.execute(
                    ins(PointsAccount.__table__)
                    .values([{"member_id": m, "updated_at": self.now} for m in missing])
                    .on_conflict_do_nothing()
                )
                found.update(self._select(missing))
            self.accounts.update(found)

    def _select(self, ids: list[str]) -> dict[str, Account]:
        t = PointsAccount.__table__
        q = (
            select(t.c.member_id, t.c.balance, t.c.held, t.c.debt)
            .where(t.c.member_id.in_(ids))
            .order_by(t.c.member_id)
            .with_for_update()
        )
        return {r[0]: Account(r[0], int(r[1]), int(r[2]), int(r[3])) for r in self.s.execute(q)}

    def account(self, member_id: str) -> Account:
        acct = self.accounts.get(member_id)
        if acct is None:
            raise RuntimeError(f"account of {member_id} used without lock()")
        return acct

    def available(self, member_id: str) -> int:
        a = self.account(member_id)
        return a.balance - a.held

    # --- writing ---------------------------------------------------------------------------
    @contextmanager
    def deferred(self) -> Iterator[Ledger]:
        """Buffer every write until the block ends (then one bulk write of each kind)."""
        self._defer += 1
        try:
            yield self
        finally:
            self._defer -= 1
        self._autosync()

    def _autosync(self) -> None:
        if not self._defer:
            self.sync()

    def sync(self) -> None:
        """Write what this ledger buffered: entries, lots, allocations, lots' remaining,
        accounts — in that order, for the foreign keys and the CHECKs."""
        if self._entries:
            bulk_insert(self.s, LedgerEntry.__table__, self._entries)
            self._entries = []
        if self._lots:
            bulk_insert(self.s, PointsLot.__table__, self._lots)
            self._lots = []
        if self._allocations:
            bulk_insert(self.s, PointsAllocation.__table__, self._allocations)
            self._allocations = []
        if self._remaining:
            lots = PointsLot.__table__
            self.s.execute(
                update(lots).where(lots.c.id == bindparam("lot")).values(remaining=bindparam("r")),
                [{"lot": k, "r": v} for k, v in self._remaining.items()],
            )
            self._remaining = {}
        dirty = [a for a in self.accounts.values() if a.dirty]
        if dirty:
            t = PointsAccount.__table__
            self.s.execute(
                update(t)
                .where(t.c.member_id == bindparam("m"))
                .values(
                    balance=bindparam("b"),
                    held=bindparam("h"),
                    debt=bindparam("d"),
                    updated_at=bindparam("at"),
                ),
                [
                    {"m": a.member_id, "b": a.balance, "h": a.held, "d": a.debt, "at": self.now}
                    for a in dirty
                ],
            )
            for a in dirty:
                a.dirty = False

    # --- idempotency -----------------------------------------------------------------------
    def prefetch(self, source_ids: Iterable[str]) -> None:
        """Learn in one query which of these sources have postings already (a batch's
        sales), so posting them needs no per-row look-up."""
        ids = list(set(source_ids) - self._known_sources)
        t = LedgerEntry.__table__
        for chunk in _chunks(ids, 500):
            for row in self.s.execute(
                select(t.c.source_id, t.c.member_id, t.c.kind).where(t.c.source_id.in_(chunk))
            ):
                self._posted.add((row[0], row[1], row[2]))
            self._known_sources.update(chunk)

    def posted(self, source_id: str, member_id: str, kind: str) -> bool:
        key = (source_id, member_id, kind)
        if key in self._posted:
            return True
        if source_id in self._known_sources:
            return False
        t = LedgerEntry.__table__
        found = self.s.execute(
            select(t.c.id).where(
                t.c.source_id == source_id, t.c.member_id == member_id, t.c.kind == kind
            )
        ).first()
        if found:
            self._posted.add(key)
        return found is not None

    # --- postings --------------------------------------------------------------------------
    def _entry(
        self,
        member_id: str,
        kind: str,
        points: int,
        debt_change: int,
        *,
        source_type: str,
        source_id: str,
        occurred_at: datetime | None,
        sale_id: str | None,
        store_id: str | None,
        detail: dict[str, Any] | None,
    ) -> Entry:
        acct = self.account(member_id)
        acct.balance += points
        acct.debt += debt_change
        acct.dirty = True
        if acct.balance < 0 or acct.debt < 0 or not 0 <= acct.held <= acct.balance:
            raise RuntimeError(f"{member_id}: {kind} {points} would break the account {acct}")
        entry = Entry(
            new_id(),
            member_id,
            kind,
            points,
            debt_change,
            acct.balance,
            source_id,
            sale_id,
            store_id,
        )
        self._entries.append(
            dict(
                zip(
                    _ENTRY_COLS,
                    (
                        entry.id,
                        member_id,
                        kind,
                        points,
                        debt_change,
                        acct.balance,
                        source_type,
                        source_id,
                        sale_id,
                        store_id,
                        occurred_at or self.now,
                        self.now,
                        detail,
                    ),
                    strict=True,
                )
            )
        )
        self._posted.add((source_id, member_id, kind))
        return entry

    def credit(
        self,
        member_id: str,
        kind: str,
        points: int,
        *,
        source_type: str,
        source_id: str,
        occurred_at: datetime | None = None,
        expires_at: datetime | None = None,
        lots: list[tuple[int, datetime]] | None = None,
        debt_change: int = 0,
        sale_id: str | None = None,
        store_id: str | None = None,
        detail: dict[str, Any] | None = None,
        settle_debt: bool = True,
    ) -> Entry | None:
        """Add points as new lots (one, or `lots` as (points, expires_at) pairs); None when
        this (source, member, kind) was posted before. Settles any debt first."""
        assert kind in CREDITS and points >= 0
        if self.posted(source_id, member_id, kind):
            return None
        entry = self._entry(
            member_id,
            kind,
            points,
            debt_change,
            source_type=source_type,
            source_id=source_id,
            occurred_at=occurred_at,
            sale_id=sale_id,
            store_id=store_id,
            detail=detail,
        )
        if lots is None:
            expiry = expires_at or (occurred_at or self.now) + timedelta(
                days=self.settings.points_valid_days
            )
            lots = [(points, expiry)] if points else []
        assert sum(p for p, _ in lots) == points
        self._lots += [
            {
                "entry_id": entry.id,
                "member_id": member_id,
                "points": p,
                "remaining": p,
                "expires_at": exp,
            }
            for p, exp in lots
            if p > 0
        ]
        if settle_debt and self.account(member_id).debt > 0:
            self._settle_debt(member_id, entry)
        self._autosync()
        return entry

    def _settle_debt(self, member_id: str, credit: Entry) -> None:
        acct = self.account(member_id)
        take = min(acct.debt, self.available(member_id))
        if take <= 0:
            return
        self.debit(
            member_id,
            "debt_settle",
            take,
            source_type="debt",
            source_id=credit.id,
            debt_change=-take,
            sale_id=credit.sale_id,
            store_id=credit.store_id,
            detail={"settles_debt_of": acct.debt},
        )

    def debit(
        self,
        member_id: str,
        kind: str,
        points: int,
        *,
        source_type: str,
        source_id: str,
        occurred_at: datetime | None = None,
        partial: bool = False,
        from_held: int = 0,
        prefer_entry: str | None = None,
        only_lot: int | None = None,
        debt_change: int = 0,
        sale_id: str | None = None,
        store_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Posted | None:
        """Take `points` from the member's lots, first-to-expire first (`prefer_entry`'s
        lots before all others; `only_lot` from that lot alone). `from_held` of them were held
        by a reservation. Not enough points: InsufficientPoints, or with `partial` take what
        there is and book the rest as debt. None when posted before."""
        assert kind in DEBITS and points >= 0
        if self.posted(source_id, member_id, kind):
            return None
        acct = self.account(member_id)
        can = acct.balance - acct.held + from_held
        if points > can and not partial:
            raise InsufficientPoints(points, max(can, 0))
        take = min(points, can)
        shortfall = points - take
        allocations = self._allocate(member_id, take, prefer_entry, only_lot)
        acct.held -= from_held
        entry = self._entry(
            member_id,
            kind,
            -take,
            debt_change + shortfall,
            source_type=source_type,
            source_id=source_id,
            occurred_at=occurred_at,
            sale_id=sale_id,
            store_id=store_id,
            detail=({**(detail or {}), "shortfall": shortfall} if shortfall else detail),
        )
        self._allocations += [
            {"debit_id": entry.id, "lot_id": lot, "points": p} for lot, p in allocations
        ]
        if shortfall:
            issue(
                self.s,
                "points_shortfall",
                f"{kind} of {points} points found only {take}; {shortfall} booked as debt",
                member_id,
                source_id,
            )
        self._autosync()
        return Posted(entry, shortfall)

    def _allocate(
        self, member_id: str, points: int, prefer_entry: str | None, only_lot: int | None
    ) -> list[tuple[int, int]]:
        if points == 0:
            return []
        if any(row["member_id"] == member_id for row in self._lots):
            self.sync()  # lots credited in this transaction must have ids to take from
        lots = PointsLot.__table__
        q = select(lots.c.id, lots.c.remaining).where(
            lots.c.member_id == member_id, lots.c.remaining > 0
        )
        if only_lot is not None:
            q = q.where(lots.c.id == only_lot)
        order = [lots.c.expires_at, lots.c.id]
        if prefer_entry is not None:
            order.insert(0, case((lots.c.entry_id == prefer_entry, 0), else_=1))
        out: list[tuple[int, int]] = []
        left = points
        for lot_id, stored in self.s.execute(q.order_by(*order)):
            remaining = self._remaining.get(lot_id, int(stored))  # a debit not yet written
            if remaining <= 0:
                continue
            step = min(remaining, left)
            self._remaining[lot_id] = remaining - step
            out.append((lot_id, step))
            left -= step
            if left == 0:
                break
        if left:  # the account said the points were there: the projection is broken
            raise RuntimeError(f"lots of {member_id} hold {points - left}, account says more")
        return out

    # --- reservations (a lane paying with points) ------------------------------------------
    def reserve(
        self,
        reservation_id: str,
        member_id: str,
        points: int,
        *,
        store_id: str | None = None,
        gateway_id: str | None = None,
        lane: str | None = None,
        ttl_s: int | None = None,
    ) -> PointsReservation:
        """Hold points for a lane. The id is the lane's: a retry (after a lost answer, or
        racing the original) returns the same hold. The account lock comes first, so a retry
        and its original serialise and the second sees the first's committed hold."""
        self.lock([member_id])
        existing = self.s.get(PointsReservation, reservation_id, populate_existing=True)
        if existing is not None:
            if existing.member_id != member_id or existing.points != points:
                raise PointsError(f"reservation id {reservation_id} is taken by another hold")
            return existing  # a retried request: the same hold
        available = self.available(member_id)
        if points > available:
            raise InsufficientPoints(points, available)
        ttl = ttl_s or self.settings.reservation_ttl_s
        r = PointsReservation(
            id=reservation_id,
            member_id=member_id,
            points=points,
            value_fen=points * self.settings.point_value_milli_fen // 1000,
            status="held",
            store_id=store_id,
            gateway_id=gateway_id,
            lane=lane,
            created_at=self.now,
            expires_at=self.now + timedelta(seconds=ttl),
        )
        try:  # the same id for another member's account is not serialised by our lock
            with self.s.begin_nested():
                self.s.add(r)
        except IntegrityError:
            raise PointsError(f"reservation id {reservation_id} is taken by another hold") from None
        acct = self.account(member_id)
        acct.held += points
        acct.dirty = True
        self._autosync()
        return r

    def preload(self, reservation_ids: Iterable[str], owners: dict[str, str]) -> None:
        """Lock a batch's reservations in one query (their accounts must be locked first);
        `owners` maps member ids to the profile they live on now."""
        ids = sorted(set(reservation_ids) - self._reservations.keys())
        for chunk in _chunks(ids, 500):
            for r in self.s.scalars(
                select(PointsReservation)
                .where(PointsReservation.id.in_(chunk))
                .order_by(PointsReservation.id)
                .with_for_update()
            ):
                self._reservations[r.id] = (r, owners.get(r.member_id, r.member_id))

    def _reservation(self, reservation_id: str) -> tuple[PointsReservation, str]:
        if reservation_id in self._reservations:
            r, owner = self._reservations[reservation_id]
            self.lock({r.member_id, owner})
            return r, owner
        r = self.s.get(PointsReservation, reservation_id)
        if r is None:
            raise NotFound(f"no points reservation {reservation_id}")
        owner = resolve(self.s, [r.member_id]).get(r.member_id, r.member_id)
        self.lock({r.member_id, owner})
        self.s.refresh(r, with_for_update=True)
        self._reservations[reservation_id] = (r, owner)
        return r, owner

    def commit(
        self, reservation_id: str, sale_id: str | None = None, store_id: str | None = None
    ) -> PointsReservation:
        """Spend what a reservation held, once. A hold that timed out (released) is spent
        anyway, from whatever the member has; what is missing becomes debt, visibly."""
        r, owner = self._reservation(reservation_id)
        if r.status == "committed":
            if sale_id and r.sale_id and r.sale_id != sale_id:
                raise PointsError(f"reservation {reservation_id} was spent on sale {r.sale_id}")
            if sale_id and not r.sale_id:
                r.sale_id = sale_id
            return r
        held = r.status == "held" and owner == r.member_id
        if r.status == "held" and not held:  # the holder was merged: its hold went with it
            self.release(reservation_id, "released")
        self.debit(
            owner,
            "spend",
            r.points,
            source_type="reservation",
            source_id=r.id,
            partial=not held,
            from_held=r.points if held else 0,
            sale_id=sale_id,
            store_id=store_id or r.store_id,
            detail={"lane": r.lane, "late": not held} if not held else {"lane": r.lane},
        )
        r.status = "committed"
        r.settled_at = self.now
        r.sale_id = sale_id or r.sale_id
        return r

    def release(self, reservation_id: str, status: str = "released") -> PointsReservation:
        r, _ = self._reservation(reservation_id)
        if r.status == "committed":
            raise PointsError(f"reservation {reservation_id} is already spent")
        if r.status == "held":
            acct = self.account(r.member_id)
            acct.held -= r.points
            acct.dirty = True
            r.status = status
            r.settled_at = self.now
            self._autosync()
        return r

    # --- merging two members' points -------------------------------------------------------
    def transfer_all(self, from_id: str, to_id: str, merge_id: str) -> dict[str, int]:
        """Move every lot (with its expiry) and the debt of `from_id` onto `to_id`."""
        self.lock([from_id, to_id])
        for rid in self.s.scalars(
            select(PointsReservation.id).where(
                PointsReservation.member_id == from_id, PointsReservation.status == "held"
            )
        ).all():
            self.release(rid, "released")
        self.sync()
        lots = PointsLot.__table__
        moving = [
            (int(rem), exp)
            for rem, exp in self.s.execute(
                select(lots.c.remaining, lots.c.expires_at)
                .where(lots.c.member_id == from_id, lots.c.remaining > 0)
                .order_by(lots.c.expires_at, lots.c.id)
            )
        ]
        total = sum(p for p, _ in moving)
        debt = self.account(from_id).debt
        self.debit(
            from_id,
            "merge_out",
            total,
            source_type="merge",
            source_id=merge_id,
            debt_change=-debt,
            detail={"to": to_id},
        )
        self.credit(
            to_id,
            "merge_in",
            total,
            source_type="merge",
            source_id=merge_id,
            lots=moving,
            debt_change=debt,
            detail={"from": from_id},
            settle_debt=False,
        )
        return {"points": total, "lots": len(moving), "debt": debt}


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


# --- jobs and reports ----------------------------------------------------------------------
