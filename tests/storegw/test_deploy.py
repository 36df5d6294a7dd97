"""What deploy/ ships is well-formed: the systemd units are Type=notify with a watchdog (the
processes' side is tests/transport/test_sd_notify.py) and pass `systemd-analyze verify`; the
shell scripts parse, and pass shellcheck where it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
SCRIPTS = sorted((ROOT / "deploy").glob("*.sh"))


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_wait_for_ready_and_are_watched(unit: Path, tmp_path: Path) -> None:
    lines = unit.read_text().splitlines()
    for want in ("Type=notify", "NotifyAccess=main", "Restart=always"):
        assert want in lines, f"{unit.name}: no {want}"
    (watchdog,) = [x for x in lines if x.startswith("WatchdogSec=")]
    assert int(watchdog.split("=")[1]) >= 10
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    copy = tmp_path / unit.name  # verify reads the unit where it is, not where it installs
    shutil.copy(unit, copy)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    # the one thing it may miss here: the installed command
    problems = [x for x in done.stderr.splitlines() if x and "is not executable" not in x]
    assert problems == [], done.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    if shutil.which("shellcheck"):
        checked = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
