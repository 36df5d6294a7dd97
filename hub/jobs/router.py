"""Run a scheduled job now (operators and tests); the scheduler runs them by itself too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from hub.inputs import errors

router = APIRouter(tags=["loyalty"], responses=errors(404, 409))


@router.post("/loyalty/jobs/{name}/run")
def run_job(name: str, request: Request) -> dict[str, Any]:
    """Run a scheduled job now: reservations, expiry, tiers, snapshots."""
    return {"job": name, "result": request.app.state.jobs.run(name)}
