"""The configuration page's model: the devices declared in `<data dir>/devices.toml` (profile,
port by id, printer address, lane, driver and payment options), edited one device at a time,
validated the way the gateway will read it, saved atomically (temp file, fsync, rename) and
applied by restarting only the drivers whose declaration changed (Devices.reload_declared).

Secrets in a device's options (api keys, passwords) are never sent to the page: they show as
MASK, and a value left as MASK keeps the stored one."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from edge.devices.payment_profiles import payment_profiles
from edge.devices.profiles import profiles
from edge.devices.registry import DeclarationError, load_declared

MASK = "********"
SPEC_KEYS = ("id", "kind", "profile", "port", "lane")
SECRET_OPTION = re.compile(r"(?i)(key|secret|password|passwd|token)$")
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LANE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class SettingsError(ValueError):
    """What is wrong with the submitted settings, in words for the technician."""


def profile_names() -> dict[str, list[str]]:
    """Known profiles per device kind (empty: any name, the driver checks)."""
    p, pp = profiles(), payment_profiles()
    return {
        "scale": sorted(p.scales),
        "scanner": sorted(p.scanners),
        "printer": sorted(pp.printers),
        "terminal": sorted(pp.terminals),
        "aggregator": sorted(pp.aggregators),
    }


def serial_ports(by_id: Path = Path("/dev/serial/by-id")) -> list[str]:
    """Serial ports by their stable names (udev's by-id links)."""
    try:
        return sorted(str(p) for p in by_id.iterdir())
    except OSError:
        return []


def read_entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        return list(tomllib.loads(path.read_text("utf-8")).get("device", []))
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path.name} is not valid TOML: {err}") from err


def masked(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: (MASK if SECRET_OPTION.search(k) and v else v) for k, v in entry.items()}


def options_text(entry: dict[str, Any]) -> str:
    """A device's options (everything but the spec keys) as TOML lines, secrets masked."""
    opts = {k: v for k, v in masked(entry).items() if k not in (*SPEC_KEYS, "address")}
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in opts.items())


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # a JSON string is a valid TOML basic string (same escapes, \uXXXX for controls)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise SettingsError(f"cannot write {type(value).__name__} values")


def render(entries: list[dict[str, Any]]) -> str:
    out = ["# the gateway's devices; written by the admin pages (edit there, or by hand)\n"]
    for entry in entries:
        out.append("\n[[device]]\n")
        out += [f"{k} = {toml_value(v)}\n" for k, v in entry.items() if v is not None]
    return "".join(out)


def entry_from_form(
    form: dict[str, str], old: dict[str, Any] | None, kinds: Collection[str]
) -> dict[str, Any]:
    """`kinds`: the kinds the gateway has drivers for (edge/gateway.py's DRIVERS)."""
    """One device's declaration from the form, validated field by field."""
    device_id = form.get("id", "").strip()
    kind = form.get("kind", "").strip()
    profile = form.get("profile", "").strip()
    port = form.get("port", "").strip()
    lane = form.get("lane", "").strip()
    if not DEVICE_ID.match(device_id):
        raise SettingsError("device id: 1-64 of A-Z a-z 0-9 _ . - (starting with a letter/digit)")
    if kind not in kinds:
        raise SettingsError(f"kind must be one of {', '.join(sorted(kinds))}")
    known = profile_names().get(kind)
    if not profile or (known and profile not in known):
        raise SettingsError(
            f"profile {profile!r} is not a {kind} profile ({', '.join(known or [])})"
        )
    if len(port) > 300 or any(ord(c) < 32 for c in port):
        raise SettingsError("port: at most 300 printable characters")
    if lane and not LANE.match(lane):
        raise SettingsError("lane: 1-32 of A-Z a-z 0-9 _ -")
    try:
        options = tomllib.loads(form.get("options", ""))
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"options are not TOML `key = value` lines: {err}") from err
    for k, v in options.items():
        if k in (*SPEC_KEYS, "address"):
            raise SettingsError(f"options: {k!r} has its own field above")
        if isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, dict) for x in v)):
            raise SettingsError(f"options: {k!r} must be a plain value, not a table")
        if v == MASK:  # left masked: keep what is stored
            if not old or k not in old:
                raise SettingsError(f"options: {k!r} has no stored value to keep; type it")
            options[k] = old[k]
    entry: dict[str, Any] = {"id": device_id, "kind": kind, "profile": profile, "port": port}
    if lane:
        entry["lane"] = lane
    return entry | options


def save(path: Path, entries: list[dict[str, Any]], kinds: Collection[str]) -> None:
    """Write devices.toml atomically, only if the gateway reads it back without complaint
    (`kinds`: those the gateway has drivers for)."""
    text = render(entries)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold api keys
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        load_declared(tmp, kinds)  # the very check the gateway runs at start
        for entry in entries:
            check_profile(entry)
    except (DeclarationError, SettingsError) as err:
        tmp.unlink(missing_ok=True)
        raise SettingsError(str(err).replace(str(tmp), path.name)) from err
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def check_profile(entry: dict[str, Any]) -> None:
    known = profile_names().get(entry["kind"])
    if known and entry["profile"] not in known:
        raise SettingsError(
            f"device {entry['id']}: no {entry['kind']} profile {entry['profile']!r}"
        )


def upsert(entries: list[dict[str, Any]], entry: dict[str, Any], original_id: str | None) -> None:
    """Replace the device `original_id` (or add a new one); ids stay unique."""
    renamed_or_new = original_id != entry["id"]
    if renamed_or_new and any(e.get("id") == entry["id"] for e in entries):
        raise SettingsError(f"a device {entry['id']!r} is already declared")
    for i, e in enumerate(entries):
        if original_id and e.get("id") == original_id:
            entries[i] = entry
            return
    if original_id:
        raise SettingsError(f"no declared device {original_id!r} (reload the page)")
    entries.append(entry)
