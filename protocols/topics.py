"""MQTT topic names: the one place both sides spell them.

storegw/v1/{store}/{gateway}/events     edge → hub   batches of envelopes, QoS 1
storegw/v1/{store}/{gateway}/acks       hub → edge   highest contiguous seq applied
storegw/v1/{store}/{gateway}/status     retained; the last will says offline
storegw/v1/{store}/config/{kind}        hub → edges  retained versioned snapshots
storegw/v1/{store}/config/stock-alerts  hub → edges  retained: the store's open stock alerts
storegw/v1/{store}/config/members       hub → edges  retained: the store's recent members
storegw/v1/{store}/{gateway}/snapshots  edge → hub   retained: the snapshot versions it holds
storegw/v1/{store}/{gateway}/rpc/...    request / response (protocols/rpc.py)
storegw/v1/{store}/notices/{kind}       hub → edges  retained notices for a store (churn warnings)
storegw/v1/hub/status                   retained hub online/offline; its last will says offline
"""

from __future__ import annotations

import re
from typing import NamedTuple

ROOT = "storegw/v1"
# The store-id rule (also gateway ids, event types): short, printable, and never an MQTT
# wildcard or separator. The contract (protocols/envelope.py) and the hub's routes use it too.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ID = re.compile(ID_PATTERN)

# retained; the hub's last will says offline
HUB_STATUS = f"{ROOT}/hub/status"
STATUS_ALL = f"{ROOT}/+/+/status"

EVENTS_ALL = f"{ROOT}/+/+/events"
SNAPSHOTS_HELD_ALL = f"{ROOT}/+/+/snapshots"


def events_shared(group: str) -> str:
    """The hub workers' shared subscription. Mosquitto 2.0's acl_file does not check
    SUBSCRIBE, so any account could join a known group and take (then lose, the delivery
    being refused) its share of the events: the hub names the group with a per-deployment
    secret (hub/app.py). MQTT forbids wildcards in a share name: no one can join
    every group."""
    if not group or any(c in group for c in "/+#"):
        raise ValueError(f"invalid share group {group!r}")
    return f"$share/{group}/{EVENTS_ALL}"


class TopicError(ValueError):
    pass


def check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise TopicError(f"{what} {value!r} must be 1-64 of A-Z a-z 0-9 _ . - (starting alnum)")
    return value


def events(store: str, gateway: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/{check_id(gateway, 'gateway')}/events"


def acks(store: str, gateway: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/{check_id(gateway, 'gateway')}/acks"


def status(store: str, gateway: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/{check_id(gateway, 'gateway')}/status"


def config(store: str, kind: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/config/{check_id(kind, 'kind')}"


def notices(store: str, kind: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/notices/{check_id(kind, 'kind')}"


STOCK_ALERTS = "stock-alerts"  # a config leaf (gateways may read config/+), not a snapshot kind


def stock_alerts(store: str) -> str:
    return config(store, STOCK_ALERTS)


def snapshots_held(store: str, gateway: str) -> str:
    return f"{ROOT}/{check_id(store, 'store')}/{check_id(gateway, 'gateway')}/snapshots"


class GatewayTopic(NamedTuple):
    store: str
    gateway: str
    leaf: str


def parse_gateway_topic(topic: str) -> GatewayTopic:
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != ROOT or parts[3] == "config":
        raise TopicError(f"not a gateway topic: {topic!r}")
    return GatewayTopic(check_id(parts[2], "store"), check_id(parts[3], "gateway"), parts[4])
