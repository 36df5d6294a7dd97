"""`storegw analytics ltv-fit`: the LTV models on an analyst's own transactions file.

The CSV's header names `customer`, `date` (YYYY-MM-DD or YYYYMMDD) and `amount` (extra columns
ignored). Purchases of one customer on one day are one transaction, their amounts summed.
BG/NBD is fitted on the repeat transactions up to --calibration-end (time in days or weeks of
7 days), Gamma-Gamma on the average repeat value of customers with at least one repeat; with
--holdout-end, predicted vs actual transactions in (calibration end, holdout end] per
calibration frequency. One JSON object on stdout; a bad file is one line on stderr naming the
line, exit code 2."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from hub.analytics import ltv_model

REQUIRED = ("customer", "date", "amount")
PERIOD_DAYS = {"day": 1, "week": 7}


class FileError(ValueError):
    """The file cannot be used; the message names the line."""


def parse_date(text: str) -> date:
    t = text.strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(t, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"date {text!r} is neither YYYY-MM-DD nor YYYYMMDD")


def read_purchases(path: Path) -> dict[str, dict[int, float]]:
    """customer → {date ordinal: summed amount}; FileError naming the line on bad input."""
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise FileError(f"{path}: cannot read: {err.strerror}") from err
    out: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(f"{path}: line 1: empty file, expected a header") from None
        except (csv.Error, UnicodeDecodeError) as err:
            raise FileError(f"{path}: line 1: {err}") from err
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise FileError(
                f"{path}: line 1: header lacks column(s) {', '.join(missing)}"
                f" (has {', '.join(names) or 'nothing'})"
            )
        at = {c: names.index(c) for c in REQUIRED}
        line = 1
        try:
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue  # blank line
                if len(row) <= max(at.values()):
                    raise FileError(
                        f"{path}: line {line}: {len(row)} fields, header has {len(names)}"
                    )
                who = row[at["customer"]].strip()
                if not who:
                    raise FileError(f"{path}: line {line}: empty customer")
                try:
                    day = parse_date(row[at["date"]])
                except ValueError as err:
                    raise FileError(f"{path}: line {line}: {err}") from None
                try:
                    amount = Decimal(row[at["amount"]].strip())
                except InvalidOperation:
                    raise FileError(
                        f"{path}: line {line}: amount {row[at['amount']]!r} is not a number"
                    ) from None
                if not amount.is_finite():
                    raise FileError(f"{path}: line {line}: amount {amount} is not a number")
                if amount < 0:
                    raise FileError(f"{path}: line {line}: negative amount {amount}")
                out[who][day.toordinal()] += float(amount)
        except (csv.Error, UnicodeDecodeError) as err:
            raise FileError(f"{path}: line {line + 1}: {err}") from err
    return out


def fit_file(
    path: Path, calibration_end: date, period: str = "day", holdout_end: date | None = None
) -> dict[str, object]:
    purchases = read_purchases(path)
    days = PERIOD_DAYS[period]
    cal = calibration_end.toordinal()
    summary = ltv_model.summarise(purchases, cal, days)
    if not summary.customers:
        raise FileError(f"{path}: no purchase on or before {calibration_end.isoformat()}")
    bg = ltv_model.fit_bgnbd(summary.x, summary.t_x, summary.T)
    try:
        gg: dict[str, float] | None = ltv_model.fit_gamma_gamma(summary.x, summary.mx).as_dict()
    except ValueError:
        gg = None  # nobody bought twice: no spend model
    result: dict[str, object] = {
        "bgnbd": bg.as_dict(),
        "gamma_gamma": gg,
        "customers": len(summary.customers),
        "period": period,
        "calibration_end": calibration_end.isoformat(),
    }
    if holdout_end is not None:
        if holdout_end <= calibration_end:
            raise ValueError("--holdout-end must be after --calibration-end")
        end = holdout_end.toordinal()
        actual = np.array(
            [sum(1 for d in purchases[c] if cal < d <= end) for c in summary.customers],
            dtype=float,
        )
        result["holdout"] = {
            "end": holdout_end.isoformat(),
            **ltv_model.holdout_check(bg, summary, actual, (end - cal) / days),
        }
    return result


def main(args: argparse.Namespace) -> None:
    """`storegw analytics ltv-fit` (parsed in storegw/cli.py, which imports this lazily)."""
    try:
        cal = parse_date(args.calibration_end)
        hold = parse_date(args.holdout_end) if args.holdout_end else None
        out = fit_file(Path(args.transactions), cal, args.period, hold)
    except (FileError, ValueError) as err:
        print(f"storegw analytics ltv-fit: {err}", file=sys.stderr)
        sys.exit(2)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
