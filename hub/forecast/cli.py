"""`storegw forecast backtest`: the backtest over the hub database's own demand history,
printed as JSON (WAPE and MASE of the forecast and of seasonal naive); `storegw forecast run`:
forecast every store now (what the nightly job does)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from hub.db import Database, utcnow
from hub.forecast import service
from hub.members.overview import today
from hub.stores.models import Store


def _db(args: argparse.Namespace) -> Database:
    db = Database(args.database_url or f"sqlite:///{Path(args.data_dir) / 'hub.db'}")
    db.migrate()
    return db


def main(args: argparse.Namespace) -> None:
    db = _db(args)
    with db.transaction() as s:
        if args.action == "backtest":
            until = date.fromisoformat(args.until) if args.until else today(s) - timedelta(days=1)
            try:
                report = service.backtest_chain(s, until, args.origins, args.store or None)
            except ValueError as why:
                sys.exit(f"storegw forecast backtest: {why}")
            print(json.dumps(report, indent=2))
            return
        stores = args.store or list(s.scalars(select(Store.id).order_by(Store.id)))
        day, now = today(s), utcnow()
        done = {st: service.run_store(s, st, day, now) for st in stores}
        print(json.dumps({"day": day.isoformat(), "series": done}, indent=2))
