"""docs/lanes.md's curl walkthrough, run as written (bash, curl) against a real gateway: each
answer is what the doc says and fits the schema the gateway's OpenAPI document gives for it,
and every call the doc makes is in that document."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import Broker, Edge

DOC = Path(__file__).resolve().parents[2] / "docs" / "lanes.md"


def walkthrough() -> str:
    return "\n".join(re.findall(r"```bash\n(.*?)```", DOC.read_text("utf-8"), re.S))


def fits(spec: dict[str, Any], answer: Any, path: str, method: str, status: str) -> None:
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
    jsonschema.validate(
        answer,
        {**schema["schema"], "components": spec["components"]},
        jsonschema.Draft202012Validator,
    )


def test_the_walkthrough_runs_as_written(tmp_path: Path, broker: Broker) -> None:
    edge = Edge(tmp_path / "edge", "s1", "gw1", broker.url)
    edge.start()
    try:
        spec = edge.http.get("/openapi.json").json()
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", walkthrough()],
            env={"PATH": "/usr/bin:/bin", "GW": str(edge.http.base_url).rstrip("/"),
                 "TOKEN": "test-lane-token", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        answers = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        sale, again, refund, shift, journal, bad = answers
        sale, again, refund, shift, journal = map(json.loads, (sale, again, refund, shift, journal))
        assert sale["total_fen"] == 1360 and sale["change_fen"] == 640 and not sale["duplicate"]
        assert again["duplicate"] and again["sale_id"] == sale["sale_id"]
        assert refund["sale_id"] == sale["sale_id"] and refund["total_fen"] == 200
        assert shift["shift_id"].startswith("lane1-")
        assert journal["last_seq"] == 3  # the retry and the bad sale booked nothing
        body, status = bad.rsplit(" ", 1)
        assert status == "400" and "unit_price_fen" in json.loads(body)["error"]
        for answer, path in (
            (sale, "/api/lanes/{lane}/sales"),
            (again, "/api/lanes/{lane}/sales"),
            (refund, "/api/lanes/{lane}/refunds"),
            (shift, "/api/lanes/{lane}/shifts/close"),
        ):
            fits(spec, answer, path, "post", "201")
        fits(spec, json.loads(body), "/api/lanes/{lane}/sales", "post", "400")
    finally:
        edge.stop()


def test_every_call_in_the_doc_is_in_the_openapi_document() -> None:
    from edge.openapi import document

    spec = document()
    calls = re.findall(r'curl[^\n]*?(?:-X (\w+) )?"\$GW(/[^"?]*)"', walkthrough())
    assert len(calls) == 6
    templates = {re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)): p for p in spec["paths"]}
    for method, path in calls:
        found = [p for rx, p in templates.items() if re.fullmatch(rx, path)]
        assert found, f"{path} is not in /openapi.json"
        assert (method or "GET").lower() in spec["paths"][found[0]], (method, path)
