"""Profiles load from firmware_config/ and bad ones fail with the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.devices.profiles import (
    LabelProfile,
    ProfileError,
    Profiles,
    ScaleProfile,
    load_file,
    profile_dir,
    profiles,
)


def test_shipped_profiles_load_and_cover_the_issue() -> None:
    p = Profiles()
    assert len(p.scales) >= 3 and {s.protocol for s in p.scales.values()} == {
        "toledo",
        "sics",
        "cas",
    }
    assert len(p.scanners) >= 3
    assert {s.transport for s in p.scanners.values()} == {"serial", "keyboard", "hidpos"}
    lengths = {len(label.pattern) for label in p.labels.values()}
    assert lengths == {13, 18}
    vendors = " ".join(label.vendor for label in p.labels.values())
    assert "大华" in vendors and "顶尖" in vendors
    toledo = p.scale("mettler-toledo-8217")
    assert toledo.serial.describe() == "9600 7E1"
    for scanner in p.scanners.values():
        assert p.layouts(scanner.label_layouts)  # every layout a scanner names exists


def _write(tmp_path: Path, text: str, kind: str = "scales", name: str = "acme") -> Path:
    folder = tmp_path / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, "utf-8")
    return path


GOOD_SCALE = """
title = "Acme"
vendor = "Acme"
protocol = "toledo"
[serial]
parity = "E"
bytesize = 7
[weighing]
capacity_g = 15000
"""


def test_a_bad_value_names_file_key_and_problem(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_SCALE.replace('parity = "E"', 'parity = "X"'))
    with pytest.raises(ProfileError) as err:
        load_file(path, ScaleProfile)
    message = str(err.value)
    assert str(path) in message and "serial.parity" in message and "'E'" in message


def test_a_typo_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_SCALE.replace("capacity_g", "capacty_g"))
    with pytest.raises(ProfileError) as err:
        load_file(path, ScaleProfile)
    assert "weighing.capacty_g" in str(err.value) and "Extra inputs" in str(err.value)


def test_invalid_toml_and_missing_keys(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_file(_write(tmp_path, "title = "), ScaleProfile)
    with pytest.raises(ProfileError, match="protocol: Field required"):
        load_file(_write(tmp_path, GOOD_SCALE.replace('protocol = "toledo"', "")), ScaleProfile)


def test_usb_ids_and_ranges_are_checked(tmp_path: Path) -> None:
    text = GOOD_SCALE + '[usb]\nids = ["0403-6001"]\n'
    with pytest.raises(ProfileError, match=r"usb\.ids.*0403-6001"):
        load_file(_write(tmp_path, text), ScaleProfile)
    text = GOOD_SCALE.replace("capacity_g = 15000", "capacity_g = 100\nmin_weight_g = 200")
    with pytest.raises(ProfileError, match="min_weight_g must be below capacity_g"):
        load_file(_write(tmp_path, text), ScaleProfile)


def test_a_label_flag_that_looks_like_a_payment_code_is_refused(tmp_path: Path) -> None:
    text = """
title = "bad"
vendor = "x"
barcode = "Code 128"
pattern = "FFWWWWWEEEEENNNNNC"
prefixes = ["26"]
"""
    with pytest.raises(ProfileError, match="alipay payment codes"):
        load_file(_write(tmp_path, text, "labels"), LabelProfile)
    with pytest.raises(ProfileError, match="13 digits"):
        load_file(_write(tmp_path, text.replace('"Code 128"', '"EAN-13"'), "labels"), LabelProfile)


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="mettler-toledo-8217"):
        Profiles().scale("no-such-scale")


def test_profile_directory_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, GOOD_SCALE)
    monkeypatch.setenv("STOREGW_PROFILES", str(tmp_path))
    assert profile_dir() == tmp_path
    assert list(profiles().scales) == ["acme"]
    monkeypatch.delenv("STOREGW_PROFILES")
    assert "acme" not in profiles().scales
