"""The gateway imports only what it runs: assembled as `storegw edge` assembles it (no devices),
it has loaded no hub, no database toolkit, no image stack, no GS1 table. Each of these cost
megabytes of resident memory on every gateway (bench/gateway_memory.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# what each would cost, roughly, resident (bench/gateway_memory.py, docs/performance.md)
NOT_AT_START = {
    "hub": "the other side",
    "sqlalchemy": "the hub's database toolkit",
    "fastapi": "the hub's web framework",
    "sqlite_utils": "13 MiB for one attribute",
    "biip": "22 MiB GS1 table: on the first GS1 scan",
    "escpos.printer": "15 MiB with its image stack: serial/USB/file printers only",
    "PIL": "previews only",
    "qrcode": "previews only",
    "barcode": "previews only",
    "yaml": "python-escpos's capabilities table",
    "jinja2": "the admin pages' templates: at the first page",
    "pydantic": "the contract is msgspec; pydantic is the hub's (FastAPI), ~5 MiB with its core",
}

ASSEMBLE = """
import json, sys
from pathlib import Path
import storegw.cli
from edge.gateway import Gateway
Gateway("s1", "g1", Path(sys.argv[1]), "mqtt://127.0.0.1:1")
print(json.dumps(sorted(sys.modules)))
"""


def test_the_gateway_starts_without_what_it_does_not_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STOREGW_EDGE_TOKEN": "t"}
    out = subprocess.run([sys.executable, "-c", ASSEMBLE, str(tmp_path / "gw")], env=env,
                         capture_output=True, text=True, check=True, cwd=tmp_path)  # fmt: skip
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "edge.devices.printer" in loaded and "aiohttp" in loaded  # it did assemble
    found = {m: why for m, why in NOT_AT_START.items()
             if m in loaded or any(x.startswith(m + ".") for x in loaded)}  # fmt: skip
    assert found == {}
