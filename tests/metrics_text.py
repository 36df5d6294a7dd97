"""Reading a `/metrics` answer back in tests: every line must be a comment or a sample of the
Prometheus text format, or parsing fails."""

from __future__ import annotations

import re

LABELS = r'\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\}'
SAMPLE = re.compile(rf"^([a-zA-Z_:][a-zA-Z0-9_:]*)({LABELS})? (\S+)$")


def parse(text: str) -> dict[str, float]:
    """{'name{labels}': value}; asserts each line is well-formed and each family is typed."""
    out: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert kind in ("counter", "gauge"), line
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample: {line!r}"
        assert m.group(1) in typed, f"{m.group(1)} has no TYPE line"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def value(metrics: dict[str, float], key: str) -> float:
    assert key in metrics, f"{key} not in {sorted(metrics)}"
    return metrics[key]
