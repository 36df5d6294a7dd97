"""The hash chain both audit logs use (the gateway's technician actions, edge/admin/audit.py;
the hub's HQ actions, hub/audit): each row's hash is SHA-256 over the canonical JSON of its
fields, the previous row's hash among them, so an edited row no longer matches its hash and a
deleted one breaks the next row's link. Pure: the callers read and write the rows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of the first row


def chain_hash(values: Sequence[Any]) -> str:
    """SHA-256 of the values as canonical JSON (a list: field order is part of the format)."""
    canonical = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def canonical_json(value: Any) -> str | None:
    """How a before/after value is stored, so the stored text is what was hashed."""
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rows: int
    problem: str | None = None
    head: str = GENESIS


def walk(rows: Iterable[dict[str, Any]], hash_of: Callable[[dict[str, Any]], str]) -> Verdict:
    """Check rows (dicts with seq, prev_hash, hash, in seq order): every hash recomputes, every
    row links to the one before, seqs start at 1 and have no gap. Names the first bad row."""
    prev, expected_seq, n = GENESIS, 1, 0
    for row in rows:
        n += 1
        if row["seq"] != expected_seq:
            return Verdict(False, n, f"row {expected_seq} is missing (next is {row['seq']})")
        if row["prev_hash"] != prev:
            return Verdict(False, n, f"row {row['seq']} does not link to the row before")
        if hash_of(row) != row["hash"]:
            return Verdict(False, n, f"row {row['seq']} was changed after it was written")
        prev, expected_seq = row["hash"], expected_seq + 1
    return Verdict(True, n, None, prev)
