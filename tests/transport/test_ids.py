"""Our UUIDv7 (transport/ids.py): RFC 9562 layout, the envelope's pattern, the time in its top
48 bits, and ids that sort in the order they were made, within one millisecond and across
threads."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest

from protocols.envelope import UUID7
from transport import ids


def test_an_id_is_a_version_7_uuid_carrying_the_time() -> None:
    before = time.time_ns() // 1_000_000
    value = ids.new_id()
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(UUID7, value)
    parsed = uuid.UUID(value)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert str(parsed) == value
    assert before <= parsed.int >> 80 <= after + 1  # Unix milliseconds


def test_ids_sort_in_the_order_they_were_made_even_within_a_millisecond() -> None:
    made = [ids.new_id() for _ in range(50_000)]  # many per millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    per_ms: dict[int, int] = {}
    for value in made:
        ms = uuid.UUID(value).int >> 80
        per_ms[ms] = per_ms.get(ms, 0) + 1
    assert max(per_ms.values()) > 1  # the counter, not the clock, ordered some of them


def test_a_clock_set_back_does_not_reorder_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = time.time_ns() // 1_000_000 + 60_000  # the last id made a minute "ahead"
    monkeypatch.setattr(ids, "_last_ms", ahead)
    monkeypatch.setattr(ids, "_counter", 5)
    later = [ids.new_id() for _ in range(100)]
    assert later == sorted(later)
    assert {uuid.UUID(v).int >> 80 for v in later} == {ahead}  # kept, not gone back


def test_threads_never_make_the_same_id() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        out.extend(ids.new_id() for _ in range(10_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [value for out in made for value in out]
    assert len(set(every)) == len(every)
    assert all(out == sorted(out) for out in made)
