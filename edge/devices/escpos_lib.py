"""python-escpos, loaded when a printer needs it, never at the gateway's start: it imports
Pillow, qrcode, python-barcode and PyYAML and parses a 96 KB capabilities table (~15 MiB
resident in all), which a gateway without a printer has no use for.

It also leaked a temporary folder per start: `escpos.capabilities` caches the parsed table as a
pickle in `$ESCPOS_CAPABILITIES_PICKLE_DIR`, which defaults to a fresh `mkdtemp()` made at
import and never removed, so every start left a `/tmp/tmpXXXX` behind and parsed the YAML again.
`use_cache_in()` names a folder of the gateway's own before the first import: the folder is
made once and the pickle in it is reused by the next start. (A folder the environment names
already is left as it is.)"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

PICKLE_DIR = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def use_cache_in(data_dir: Path) -> None:
    """Before anything imports escpos: keep its capabilities cache in `<data_dir>/cache/escpos`."""
    if PICKLE_DIR not in os.environ:
        folder = data_dir / "cache" / "escpos"
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[PICKLE_DIR] = str(folder)


def printers(data_dir: Path) -> ModuleType:
    """`escpos.printer` (Network, Serial, Usb, File, Dummy), its cache in the data dir."""
    use_cache_in(data_dir)
    from escpos import printer

    return printer
