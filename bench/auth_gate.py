"""The access check every hub API call pays (hub/auth/gate.py), on the 360° view's route (the
hot path): an account's access token and an API key, each against the raw limit measured in
the same run — one HMAC-SHA256 of the token (the least verifying a signed token costs) and one
SHA-256 of the key (the least finding a hashed key costs). Medians of 5 runs.

    python bench/auth_gate.py"""

from __future__ import annotations

import hashlib
import hmac
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from starlette.requests import Request

from hub.app import create_app

N = 20_000
RUNS = 5
PATH = "/api/members/{member_id}/360"


def per_call_us(fn: Callable[[], object]) -> float:
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(N):
            fn()
        runs.append((time.perf_counter() - start) / N * 1e6)
    return statistics.median(runs)


def matched_route(app: Any, gate: Any, key: str) -> Any:
    """The route object FastAPI puts in the scope of a request to PATH (nested routers resolve
    it only while routing): caught from one real request through the app."""
    seen: list[Any] = []
    real = gate.authorize

    def spy(request: Request) -> Any:
        seen.append(request.scope.get("route"))
        return real(request)

    gate.authorize = spy
    try:
        TestClient(app).get(
            PATH.format(member_id="0190a1b2-c3d4"), headers={"authorization": f"Bearer {key}"}
        )
    finally:
        gate.authorize = real
    assert seen and getattr(seen[0], "path", "").endswith("/360"), seen
    return seen[0]


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="gate-bench-"))
    app = create_app(data_dir)
    app.state.db.migrate()
    key = app.state.tokens.bootstrap(data_dir)
    gate = app.state.gate
    route = matched_route(app, gate, key)
    token = gate.signer.issue({"sub": 1, "name": "a", "role": "hq_analyst", "stores": []})

    def request(bearer: str) -> Request:
        return Request(
            {
                "type": "http",
                "method": "GET",
                "path": "/api/members/0190a1b2-c3d4/360",
                "headers": [(b"authorization", f"Bearer {bearer}".encode())],
                "query_string": b"",
                "route": route,
                "path_params": {"member_id": "0190a1b2-c3d4"},
                "app": app,
            }
        )

    gate.authorize(request(token))  # warm the route's template
    checks = {
        "access token": (lambda: gate.authorize(request(token)), token),
        "API key": (lambda: gate.authorize(request(key)), key),
    }
    raw = {
        "access token": lambda: hmac.new(gate.signer.key, token.encode(), "sha256").digest(),
        "API key": lambda: hashlib.sha256(key.encode()).hexdigest(),
    }
    build = per_call_us(lambda: request(token))  # the Request object itself, not the check
    print(f"building the Request: {build:.2f} µs (included below)")
    for name, (check, _) in checks.items():
        took = per_call_us(check)
        floor = per_call_us(raw[name])
        print(f"{name:12s}: {took:6.2f} µs per check; raw limit {floor:5.2f} µs; "
              f"ratio {took / floor:5.1f}×")  # fmt: skip
    app.state.db.engine.dispose()


if __name__ == "__main__":
    main()
