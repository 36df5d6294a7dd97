"""What the hub publishes to the stores (config snapshots, the members push) is committed
before it is sent: a message read back from another connection at the moment it goes out
finds its version in the database. A version sent from inside its own transaction could be
rolled back, built again with other content under the same number, and never replaced at a
gateway that holds the number."""

from __future__ import annotations

from sqlalchemy import select

from hub.catalog.models import ConfigSnapshot
from hub.db import Database
from hub.jobs.scheduler import run_member_push, run_snapshots
from hub.members.models import MemberPushState
from hub.members.service import Members
from hub.stores.models import Store
from protocols import members_push, snapshots, topics
from tests.hub.till import Till, register


def committed_snapshot(db: Database, store: str, kind: str, version: int) -> bool:
    with db.reading() as s:  # another connection: sees only what is committed
        found = s.scalars(
            select(ConfigSnapshot.version).where(
                ConfigSnapshot.store_id == store,
                ConfigSnapshot.kind == kind,
                ConfigSnapshot.version == version,
            )
        ).first()
    return found is not None


def test_config_snapshots_are_committed_before_they_are_sent(db: Database) -> None:
    with db.transaction() as s:
        s.add_all([Store(id="s1", name="一店"), Store(id="s2", name="二店")])
    seen: list[tuple[str, bool]] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        store, kind = topic.split("/")[-3], topic.split("/")[-1]
        assert topic == topics.config(store, kind)
        version = snapshots.parse(payload, store, kind).version
        seen.append((topic, committed_snapshot(db, store, kind, version)))

    got = run_snapshots(db, publish)
    assert got["published"] == got["new_versions"] > 0
    assert seen and all(ok for _, ok in seen), seen


def test_the_members_push_is_committed_before_it_is_sent(db: Database, members: Members) -> None:
    m = register(db, members, "13812345678", name="周杰")
    Till(db, "s1").send(Till(db, "s1").sale(member=m))
    seen: list[tuple[int, int]] = []

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        sent = members_push.parse(payload, "s1")
        with db.reading() as s:
            st = s.get(MemberPushState, "s1")
            seen.append((sent.version, st.version if st else 0))

    assert run_member_push(db, members, publish)["published"] == 1
    assert seen == [(1, 1)]
