"""The MQTT URL's keepalive: what tests/faults/test_broker_outage.py's half-open link relies on."""

from __future__ import annotations

import pytest

from transport.mqtt_link import BrokerAddress


def test_keepalive_from_the_url():
    assert BrokerAddress.parse("mqtt://127.0.0.1:1883").keepalive == 20
    assert BrokerAddress.parse("mqtt://127.0.0.1:1883?keepalive=2").keepalive == 2


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "3601", "1.5"])
def test_a_bad_keepalive_is_refused_with_a_reason(bad: str):
    with pytest.raises(ValueError, match=r"keepalive must be 1\.\.3600 seconds"):
        BrokerAddress.parse(f"mqtt://127.0.0.1:1883?keepalive={bad}")
