"""The operator's commands beside the running roles: backups, restores and the audit check.

storegw edge backup  --data-dir D --to FILE                (safe while the gateway runs)
storegw edge restore --from FILE --data-dir NEW [--resume-after SEQ]
storegw hub backup   --data-dir D [--database-url URL] --to FILE
storegw hub restore  --from FILE --data-dir NEW [--database-url URL of an empty database]
storegw audit verify --data-dir D [--database-url URL]     (exit 1 when the chain fails)"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

COMMANDS = {("edge", "backup"), ("edge", "restore"), ("hub", "backup"), ("hub", "restore")}


def wants(argv: list[str]) -> bool:
    return tuple(argv[:2]) in COMMANDS or argv[:1] == ["audit"]


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", default=os.environ.get("STOREGW_DATABASE_URL"))


def main(argv: list[str]) -> int:
    from storegw import backup

    parser = argparse.ArgumentParser(prog=f"storegw {' '.join(argv[:2])}")
    parser.add_argument("--data-dir", required=True, type=Path)
    what = tuple(argv[:2])
    if what == ("edge", "backup") or what == ("hub", "backup"):
        parser.add_argument("--to", required=True, type=Path)
    elif what[1:] == ("restore",):
        parser.add_argument("--from", dest="source", required=True, type=Path)
    if what == ("edge", "restore"):
        parser.add_argument("--resume-after", type=int, help="the hub's last seq of the gateway")
    if what[0] in ("hub", "audit"):
        _db_option(parser)
    args = parser.parse_args(argv[2:])
    try:
        if what == ("edge", "backup"):
            out: object = backup.edge_backup(args.data_dir, args.to)
        elif what == ("edge", "restore"):
            out = backup.edge_restore(args.source, args.data_dir, args.resume_after)
        elif what == ("hub", "backup"):
            backup.hub_backup(args.data_dir, args.database_url, args.to)
            out = {"backup": str(args.to)}
        elif what == ("hub", "restore"):
            backup.hub_restore(args.source, args.data_dir, args.database_url)
            out = {"restored": str(args.source)}
        elif argv[1:2] == ["verify"]:
            return _verify(args.data_dir, args.database_url)
        else:
            parser.error("audit: the command is `storegw audit verify`")
    except backup.BackupError as err:
        print(f"storegw: {err}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


def _verify(data_dir: Path, database_url: str | None) -> int:
    from hub.audit import service as audit
    from hub.db import Database

    db = Database(database_url or f"sqlite:///{data_dir / 'hub.db'}")
    try:
        with db.transaction() as s:
            v = audit.verify(s)
    finally:
        db.engine.dispose()
    print(json.dumps({"ok": v.ok, "rows": v.rows, "problem": v.problem, "head": v.head}))
    return 0 if v.ok else 1
