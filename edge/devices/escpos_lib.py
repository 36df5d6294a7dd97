"""python-escpos, loaded only for the printer links that need it (serial, USB, file) and never
at the gateway's start: it imports Pillow, qrcode, python-barcode and PyYAML and parses a 96 KB
capabilities table (~15 MiB resident in all). Receipts are formatted by protocols/escpos and a
network printer is a plain socket (edge/devices/printer.py), so most gateways never load it.

Loading it leaked a temporary folder per process: `escpos.capabilities` caches the parsed table
as a pickle in `environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR", mkdtemp())` — the `mkdtemp()` runs
even when the variable is set, and nothing removes the folder, so every start left a
`/tmp/tmpXXXX` behind. `printers()` names a cache folder of the gateway's own (made once; the
pickle in it is reused by the next start) and removes the folder that import makes."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

PICKLE_DIR = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def printers(data_dir: Path) -> ModuleType:
    """`escpos.printer` (Serial, Usb, File, …), its capabilities cache in
    `<data_dir>/cache/escpos` unless the environment names one."""
    if "escpos.printer" in sys.modules:
        return sys.modules["escpos.printer"]
    if PICKLE_DIR not in os.environ:
        folder = data_dir / "cache" / "escpos"
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[PICKLE_DIR] = str(folder)
    made: list[str] = []
    real = tempfile.mkdtemp

    def recorded(*args: object, **kwargs: object) -> str:
        path = real(*args, **kwargs)  # type: ignore[call-overload]
        if sys._getframe(1).f_globals.get("__name__") == "escpos.capabilities":
            made.append(path)  # only the folder escpos.capabilities makes, no other thread's
        return str(path)

    tempfile.mkdtemp = recorded  # type: ignore[assignment]
    try:
        from escpos import printer
    finally:
        tempfile.mkdtemp = real
        for path in made:
            shutil.rmtree(path, ignore_errors=True)
    return printer
