"""The import graph keeps its direction: device drivers never import payments (payments build
on devices and register their actions), and protocols/ imports neither side nor a device
library."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def imports(folder: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        out[str(path.relative_to(ROOT))] = names
    return out


def test_devices_do_not_import_payments() -> None:
    found = {f: n for f, names in imports("edge/devices").items()
             if (n := {m for m in names if m.startswith("edge.payments")})}  # fmt: skip
    assert found == {}


def test_protocols_import_neither_side_nor_device_libraries() -> None:
    # python-escpos too: receipt.py's commands are protocols/escpos/commands.py's bytes
    banned = ("edge", "hub", "evdev", "serial", "usb", "aiohttp", "escpos")
    found = {f: n for f, names in imports("protocols").items()
             if (n := {m for m in names if m.split(".")[0] in banned})}  # fmt: skip
    assert found == {}
