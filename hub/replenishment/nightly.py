"""The nightly replenishment job (on the hub's scheduler, `replenishment`): once per
store-local business day, from the configured hour on (`STOREGW_REPLENISH_HOUR`, default 2 =
02:00 store time), each store gets its forecast, safety stocks and reorder points, reorder
alerts raised and cleared, suggested POs drafted per supplier (sent at once when worth less
than `STOREGW_REPLENISH_AUTO_SEND_FEN`, if set) and the transfer suggestions between the
stores of the pass.

A store is due on its day D when its clock is past D at the hour, it existed before D began
(a store opened today waits for tomorrow, whatever the hour: a new store has no history, and a
test's store made at 01:59 never meets a real 02:00), and
`replenishment_runs` has no row (store, D). The row is written in the same transaction as the
run, so: a hub that was down at the hour catches up once when it starts; a failed run left no
row and is tried again at the next check; two runs of one day (two hub processes, a run by
name meanwhile) cannot both commit, the key refuses the second. Days the hub missed entirely
are not run afterwards: the forecast is always from today."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.db import Database
from hub.replenishment import service
from hub.replenishment.models import ReplenishmentRun
from hub.stores.models import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    hour: int = 2  # store-local hour from which the day's run is due
    auto_send_below_fen: int | None = None  # POs worth less are sent without a person

    @classmethod
    def from_env(cls) -> Settings:
        hour = int(os.environ.get("STOREGW_REPLENISH_HOUR", "2"))
        if not 0 <= hour <= 23:
            raise ValueError(f"STOREGW_REPLENISH_HOUR must be 0..23, not {hour}")
        auto = os.environ.get("STOREGW_REPLENISH_AUTO_SEND_FEN")
        return cls(hour, int(auto) if auto else None)


def due(db: Database, now: datetime, hour: int) -> list[tuple[str, date]]:
    """(store, its business day) for every store whose run of today is due and not done."""
    with db.transaction() as s:
        stores = s.execute(select(Store.id, Store.tz, Store.created_at).order_by(Store.id)).all()
        done = set(
            s.execute(
                select(ReplenishmentRun.store_id, ReplenishmentRun.day).where(
                    ReplenishmentRun.day >= (now - timedelta(days=2)).date()
                )
            ).all()
        )
    out = []
    for store, tz, created in stores:
        zone = ZoneInfo(tz or "Asia/Shanghai")
        day = now.astimezone(zone).date()
        at = datetime.combine(day, time(hour), zone)
        if now >= at and created.astimezone(zone).date() < day and (store, day) not in done:
            out.append((store, day))
    return out


def run(db: Database, now: datetime, settings: Settings) -> dict[str, Any]:
    """Every due store, each in its own transaction (one store's failure holds back only its
    own run), then the transfers among the stores of this pass."""
    plans: dict[str, list[dict[str, Any]]] = {}
    days: dict[str, date] = {}
    ran, skipped, failed = [], [], []
    for store, day in due(db, now, settings.hour):
        try:
            with db.transaction() as s:
                row = ReplenishmentRun(
                    store_id=store, day=day, ran_at=now, series=0, alerts=0, orders=0, transfers=[]
                )
                s.add(row)
                s.flush()  # the day's key first: a second run of the day stops here
                done = service.nightly(s, store, day, now, settings.auto_send_below_fen)
                row.series, row.alerts = done["series"], done["alerts"]
                row.orders = len(done["purchase_orders"])
            plans[store], days[store] = done["plan"], day
            ran.append(store)
        except IntegrityError:
            skipped.append(store)  # another run of the day committed first
        except Exception:
            log.exception(
                "replenishment of %s for %s failed (tried again at the next check)", store, day
            )
            failed.append(store)
    moves = service.transfers_between(plans) if len(plans) > 1 else []
    if moves:
        with db.transaction() as s:
            for store in plans:
                into = [m for m in moves if m["to_store"] == store]
                if into:
                    s.execute(
                        update(ReplenishmentRun)
                        .where(
                            ReplenishmentRun.store_id == store, ReplenishmentRun.day == days[store]
                        )
                        .values(transfers=into)
                    )
    if ran:
        log.info("replenishment ran for %s; %d transfer suggestions", ", ".join(ran), len(moves))
    return {"ran": ran, "skipped": skipped, "failed": failed, "transfers": len(moves)}


def runs(s: Session, store: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The latest nightly runs, newest first (per store × day: forecast, alerts, orders and
    the transfers suggested into the store)."""
    q = select(ReplenishmentRun).order_by(ReplenishmentRun.day.desc(), ReplenishmentRun.store_id)
    if store:
        q = q.where(ReplenishmentRun.store_id == store)
    return [
        {
            "store_id": r.store_id,
            "day": r.day.isoformat(),
            "ran_at": r.ran_at.isoformat(),
            "series": r.series,
            "alerts": r.alerts,
            "orders": r.orders,
            "transfers": r.transfers,
        }
        for r in s.scalars(q.limit(limit))
    ]
