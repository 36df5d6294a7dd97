"""`storegw analytics ltv-fit` as an analyst runs it: a real process on a CSV file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from hub.analytics import ltv_model as L


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storegw.cli", "analytics", "ltv-fit", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _simulated_csv(path: Path, n: int = 3000) -> None:
    """Customers drawn from a known BG/NBD (time in days), each first buying on one of the
    first 30 days of 2025, written as a transactions file with an extra column, YYYYMMDD
    dates for half of them, and every purchase split in two lines of the same day."""
    rng = np.random.default_rng(11)
    true = L.BgNbd(r=0.4, alpha=6.0, a=0.7, b=3.0)
    start = date(2025, 1, 1)
    lines = ["store,customer,amount,date"]
    for i, repeats in enumerate(L.simulate_purchases(true, n, 365.0, rng)):
        first = int(rng.integers(0, 30))
        for t in [0.0, *repeats]:
            day = start + timedelta(days=first + int(t))
            text = day.isoformat() if i % 2 else day.strftime("%Y%m%d")
            amount = round(float(rng.gamma(4.0, 10.0)), 2)
            lines.append(f"s1,c{i},{amount / 2},{text}")  # two purchases on one day: one
            lines.append(f"s1,c{i},{amount / 2},{text}")
    path.write_text("\n".join(lines) + "\n")


def test_fit_prints_one_json_object(tmp_path: Path) -> None:
    f = tmp_path / "tx.csv"
    _simulated_csv(f)
    got = _run(
        "--transactions", str(f), "--calibration-end", "2025-08-31", "--holdout-end", "2025-11-30"
    )
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    assert set(out["bgnbd"]) >= {"r", "alpha", "a", "b", "loglik"}
    assert set(out["gamma_gamma"]) >= {"p", "q", "v"}
    assert out["customers"] == 3000
    assert out["bgnbd"]["r"] == pytest.approx(0.4, rel=0.35)
    assert out["bgnbd"]["loglik"] < 0
    buckets = out["holdout"]["buckets"]
    assert buckets[0]["frequency"] == "0"
    assert sum(b["customers"] for b in buckets) == 3000
    # the model predicts the holdout as a whole within a fifth
    assert out["holdout"]["predicted"] == pytest.approx(out["holdout"]["actual"], rel=0.2)


def test_same_day_purchases_are_one_transaction_and_weeks(tmp_path: Path) -> None:
    f = tmp_path / "tx.csv"
    f.write_text(
        "customer,date,amount\n"
        "a,2025-01-01,5\na,2025-01-01,5\na,2025-01-15,3\na,2025-01-15,4\n"
        "b,2025-01-08,1\nc,20250102,2\nc,20250110,2\nd,2025-03-01,9\n"
    )
    out = json.loads(
        _run("--transactions", str(f), "--calibration-end", "2025-01-29", "--period", "week").stdout
    )
    assert out["customers"] == 3  # d bought after calibration
    assert out["period"] == "week"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("customer,amount\na,5\n", "line 1: header lacks column(s) date"),
        ("customer,date,amount\na,2025-01-01,5\nb,2025-13-01,5\n", "line 3: date '2025-13-01'"),
        ("customer,date,amount\na,2025-01-01,5\nb,2025-01-02,-1\n", "line 3: negative amount -1"),
        ("customer,date,amount\na,2025-01-01,five\n", "line 2: amount 'five' is not a number"),
        ("customer,date,amount\n\na,2025-01-01,5\n,2025-01-02,1\n", "line 4: empty customer"),
        ("", "line 1: empty file"),
    ],
)
def test_bad_file_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    got = _run("--transactions", str(f), "--calibration-end", "2025-06-30")
    assert got.returncode == 2
    assert message in got.stderr
    assert got.stdout == ""


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "tx.csv"
    f.write_text("customer,date,amount\na,2025-01-01,5\n")
    assert "neither YYYY-MM-DD" in _run("--transactions", str(f), "--calibration-end", "x").stderr
    later = _run(
        "--transactions", str(f), "--calibration-end", "2025-02-01", "--holdout-end", "2025-01-01"
    )
    assert later.returncode == 2 and "after --calibration-end" in later.stderr
    none = _run("--transactions", str(f), "--calibration-end", "2024-02-01")
    assert none.returncode == 2 and "no purchase on or before 2024-02-01" in none.stderr
    missing = _run("--transactions", str(tmp_path / "nope.csv"), "--calibration-end", "2025-02-01")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
