"""The configuration page's model: a device's form validated field by field, secrets never shown
yet kept, devices.toml written atomically only when the gateway reads it back, and only the
drivers whose declaration changed restarted (Devices.reload_declared)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.admin import settings
from edge.devices.base import Context
from edge.devices.registry import Devices
from edge.gateway import DRIVERS
from edge.journal import JournalDb
from edge.lane_bus import LaneBus
from tests.edge.admin.conftest import run

KINDS = set(DRIVERS)


def form(**over: str) -> dict[str, str]:
    return {"id": "p1", "kind": "printer", "profile": "epson-tm-t88", "port": "file:/dev/null",
            "lane": "1", "options": 'store_name = "好邻居"\n'} | over  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("id", "p 1", "device id"),
        ("kind", "toaster", "kind must be one of"),
        ("profile", "no-such", "not a printer profile"),
        ("lane", "1/2", "lane"),
        ("port", "a\nb", "port"),
        ("options", "store_name = ", "not TOML"),
        ("options", 'lane = "2"', "its own field"),
        ("options", "[table]\nx = 1", "plain value"),
    ],
)
def test_a_bad_field_is_refused_with_its_reason(field: str, value: str, why: str) -> None:
    with pytest.raises(settings.SettingsError, match=why):
        settings.entry_from_form(form(**{field: value}), None, KINDS)


def test_a_secret_is_masked_on_the_page_and_kept_when_left_masked(tmp_path: Path) -> None:
    old = {"id": "agg", "kind": "aggregator", "profile": "generic", "port": "https://p",
           "merchant_id": "M1", "api_key": "sk-live-1"}  # fmt: skip
    shown = settings.options_text(old)
    assert "sk-live-1" not in shown and f'api_key = "{settings.MASK}"' in shown
    entry = settings.entry_from_form(
        {"id": "agg", "kind": "aggregator", "profile": "generic", "port": "https://p",
         "options": shown.replace('"M1"', '"M2"')}, old, KINDS)  # fmt: skip
    assert entry["api_key"] == "sk-live-1" and entry["merchant_id"] == "M2"
    with pytest.raises(settings.SettingsError, match="no stored value"):
        settings.entry_from_form(
            {"id": "agg2", "kind": "aggregator", "profile": "generic", "options": shown},
            None,
            KINDS,
        )


def test_saved_atomically_and_read_back_as_the_gateway_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "devices.toml"
    entries: list[dict[str, object]] = []
    settings.upsert(entries, settings.entry_from_form(form(), None, KINDS), None)
    settings.save(path, entries, KINDS)
    assert settings.read_entries(path) == entries
    assert path.stat().st_mode & 0o077 == 0  # it may hold api keys
    with pytest.raises(settings.SettingsError, match="already declared"):
        settings.upsert(entries, settings.entry_from_form(form(), None, KINDS), None)
    before = path.read_text("utf-8")
    with pytest.raises(settings.SettingsError, match="no printer profile"):
        settings.save(path, [dict(entries[0], profile="gone")], KINDS)
    assert path.read_text("utf-8") == before and not list(tmp_path.glob(".*.tmp"))


def test_reload_restarts_only_the_changed_drivers(tmp_path: Path) -> None:
    path = tmp_path / "devices.toml"
    a = settings.entry_from_form(form(id="p1"), None, KINDS)
    b = settings.entry_from_form(form(id="p2", lane="2"), None, KINDS)
    settings.save(path, [a, b], KINDS)
    db = JournalDb(sqlite3.connect(tmp_path / "journal.db", check_same_thread=False))

    async def scenario() -> None:
        devices = Devices(Context(LaneBus(), tmp_path, db=db), drivers=DRIVERS)
        await devices.start()
        p1, p2 = devices.by_id["p1"], devices.by_id["p2"]
        c = settings.entry_from_form(form(id="p3", lane="3"), None, KINDS)
        settings.save(path, [a, dict(b, store_name="新店"), c], KINDS)
        assert await devices.reload_declared() == ["p2", "p3"]
        assert devices.by_id["p1"] is p1  # untouched, not restarted
        assert devices.by_id["p2"] is not p2 and p2.state == "stopped"
        assert devices.by_id["p2"].spec.options["store_name"] == "新店"
        settings.save(path, [a], KINDS)
        assert await devices.reload_declared() == ["p2", "p3"]
        assert set(devices.by_id) == {"p1"}
        await devices.stop()

    run(scenario())
