"""The diagnostics bundle a technician hands to HQ: one zip with the configuration, the device
list, journal and link statistics, recent logs and versions — every member redacted
(edge/admin/redact.py) on the way in, so the zip never holds a secret or a member's data."""

from __future__ import annotations

import contextlib
import io
import json
import platform
import sys
import time
import zipfile
from importlib import metadata
from typing import TYPE_CHECKING, Any

from edge.admin import logs, settings, status
from edge.admin.redact import Redactor

if TYPE_CHECKING:
    from edge.gateway import Gateway

PACKAGES = ("aiohttp", "paho-mqtt", "pyserial", "python-escpos", "msgspec", "jinja2")


def known_secrets(gw: Gateway, extra: list[str]) -> list[str]:
    """Secrets the gateway holds by value: its lane token, secret options of every device
    (declared or discovered), the broker password."""
    found = [gw.token, *extra]
    options = [d.spec.options for d in gw.devices.by_id.values()]
    with contextlib.suppress(settings.SettingsError):  # a broken file is redacted by pattern
        options += settings.read_entries(gw.devices.declared)
    for opts in options:
        for k, v in opts.items():
            if settings.SECRET_OPTION.search(k) and isinstance(v, str):
                found.append(v)
    if gw.uplink.link and gw.uplink.link.address.password:
        found.append(gw.uplink.link.address.password)
    return found


def versions() -> dict[str, str]:
    out = {"storegw": status.version(), "python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    out["platform"] = platform.platform()
    return out


def build(gw: Gateway, facts: dict[str, Any], extra_secrets: list[str]) -> bytes:
    clean = Redactor(known_secrets(gw, extra_secrets))
    members: dict[str, str] = {}

    def put(name: str, value: Any) -> None:
        text = (
            value
            if isinstance(value, str)
            else json.dumps(clean.value(value), ensure_ascii=False, indent=2, default=str)
        )
        members[name] = clean(text)

    toml = gw.devices.declared
    put("config/devices.toml", toml.read_text("utf-8") if toml.exists() else "# none\n")
    policy = gw.data_dir / "store-policy.toml"
    if policy.exists():
        put("config/store-policy.toml", policy.read_text("utf-8"))
    put("devices.json", [gw.devices.describe(d) for d in gw.devices.by_id.values()])
    put("overview.json", facts)
    put("journal.json", gw.journal.stats())
    put("uplink.json", gw.uplink.stats() | {"hub_calls": gw.hub_calls.stats()})
    put("versions.json", versions())
    ring = logs.ring().select(limit=5000)
    put("logs/recent.log", "\n".join(
        f"{line.as_dict()['time']} {line.level} {line.logger}: {line.message}"
        for line in reversed(ring)
    ))  # fmt: skip
    for path in logs.log_files():
        if path.exists():
            put(f"logs/{path.name}", logs.tail(path))
    buf = io.BytesIO()
    stamp = time.gmtime()[:6]
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            z.writestr(zipfile.ZipInfo(name, stamp), text.encode(), zipfile.ZIP_DEFLATED)
    return buf.getvalue()
