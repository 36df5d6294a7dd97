"""`storegw udev-rules`, run as the provisioning script runs it: a rule for every USB id of
every scale, scanner and printer profile, on the node its driver opens, giving the service's
group the device and a stable name; a profile added to firmware_config/ gets its rule without
touching code; deploy/udev/70-storegw.rules is the output for the shipped profiles."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from edge.devices.payment_profiles import PaymentProfiles
from edge.devices.profiles import Profiles

ROOT = Path(__file__).resolve().parents[3]
KEY = r'[A-Z]+(?:\{[A-Za-z_]+\})?(?:==|\+=|=)"[^"]*"'
RULE = re.compile(rf"^{KEY}(?:, {KEY})*$")


def udev_rules(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "storegw.cli", "udev-rules", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def rules_by_id(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert RULE.match(line), f"not a udev rule: {line!r}"
        if m := re.search(r'idVendor\}=="(\w{4})", ATTRS?\{idProduct\}=="(\w{4})"', line):
            out[f"{m[1]}:{m[2]}"] = line
    return out


def test_every_profiled_usb_id_gets_a_stable_name_and_the_group() -> None:
    text = udev_rules()
    by_id = rules_by_id(text)
    devices, printers = Profiles(), PaymentProfiles()
    expected = {
        "scale": [p.usb for p in devices.scales.values() if p.usb],
        "scanner": [p.usb for p in devices.scanners.values() if p.usb],
        "printer": [p.usb for p in printers.printers.values() if p.usb],
    }
    assert all(expected.values())
    for kind, matches in expected.items():
        for usb in matches:
            for ids in usb.ids:
                rule = by_id[ids]
                assert f'SYMLINK+="storegw-{kind}"' in rule
                assert 'GROUP="storegw"' in rule and 'MODE="0660"' in rule
    hidpos = next(p for p in devices.scanners.values() if p.transport == "hidpos")
    assert 'SUBSYSTEM=="hidraw"' in by_id[hidpos.usb.ids[0]]
    wedge = next(p for p in devices.scanners.values() if p.transport == "keyboard" and p.usb)
    assert 'SUBSYSTEM=="input", KERNEL=="event*"' in by_id[wedge.usb.ids[0]]
    assert 'ENV{DEVTYPE}=="usb_device"' in by_id[printers.printers["epson-tm-t88"].usb.ids[0]]
    assert 'SUBSYSTEM=="tty"' in by_id["0403:6001"]
    assert (ROOT / "deploy" / "udev" / "70-storegw.rules").read_text() == text, (
        "deploy/udev/70-storegw.rules drifted: storegw udev-rules > deploy/udev/70-storegw.rules"
    )


def test_a_new_profile_gets_its_rule(tmp_path: Path) -> None:
    profiles = tmp_path / "firmware_config"
    shutil.copytree(ROOT / "firmware_config", profiles)
    scale = (profiles / "scales" / "cas-pd2.toml").read_text()
    (profiles / "scales" / "acme.toml").write_text(
        re.sub(r"ids = \[.*\]", 'ids = ["abcd:0123"]', scale), "utf-8"
    )
    by_id = rules_by_id(udev_rules("--profiles", str(profiles), "--group", "pos"))
    assert by_id["abcd:0123"] == (
        'SUBSYSTEM=="tty", ATTRS{idVendor}=="abcd", ATTRS{idProduct}=="0123", GROUP="pos", '
        'MODE="0660", SYMLINK+="storegw-scale"'
    )
