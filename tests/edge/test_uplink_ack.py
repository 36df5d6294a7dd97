"""The gateway takes an ack only for what it has sent. A forgery that took the gateway's next
seq at the hub earns an ack for it; were the gateway to take that ack for its own event
journaled meanwhile but not yet sent, it would mark a sale delivered that the hub never saw.
(A real journal; the uplink is not connected: acks are handed to it as its MQTT callback would.)"""

from __future__ import annotations

from pathlib import Path

from edge.journal import Journal
from edge.uplink import Uplink


def test_an_ack_beyond_what_was_sent_is_not_taken(tmp_path: Path):
    journal = Journal(tmp_path / "journal.db", "s1", "g1")
    try:
        uplink = Uplink(journal, "mqtt://127.0.0.1:1")
        journal.record("sale.completed", lambda env: {"n": 1})
        journal.record("sale.completed", lambda env: {"n": 2})
        uplink.sent_upto = 1  # seq 1 went out; seq 2 is journaled, not yet sent
        uplink.on_ack(2)  # the hub acks 2: a forgery took it
        assert journal.last_acked == 0 and journal.stats()["backlog"] == 2
        uplink.on_ack(1)  # what was sent is acked as before
        assert journal.last_acked == 1
        uplink.sent_upto = 2
        uplink.on_ack(2)
        assert journal.last_acked == 2 and journal.stats()["backlog"] == 0
    finally:
        journal.close()
