"""Real parts for every test: a Mosquitto of the test's own on a free port, SQLite files in
tmp_path, PostgreSQL when STOREGW_TEST_PG_URL names a server, and the storegw processes
themselves (started with the CLI, killed for real). The processes, `wait_until` and the sample
bodies live in the top-level `rig` package, which the benchmarks use too; they are re-exported
here, so `from tests.conftest import Broker, Hub, Edge, sale_body, wait_until` keeps working."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from rig.processes import Broker, Edge, Hub, Proc, Server, free_port
from rig.samples import sale_body
from rig.shipped_broker import ShippedBroker, hub_ca_pki, make_test_pki
from rig.waiting import until, wait_until

__all__ = [
    "Broker",
    "Edge",
    "Hub",
    "Proc",
    "Server",
    "ShippedBroker",
    "free_port",
    "make_test_pki",
    "sale_body",
    "until",
    "wait_until",
]

PG_URL = os.environ.get("STOREGW_TEST_PG_URL")

# The suite runs under -n 2 beside other work on two cores: a property's 200 ms deadline and
# the "data generation too slow" check would measure the machine's load, not the code.
settings.register_profile("storegw", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("storegw")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def ca_broker(tmp_path: Path) -> Iterator[ShippedBroker]:
    """Mosquitto as deploy/ ships it, its server certificate, CA and CRL from the hub's CA in
    tmp_path / "hub" (the hub's data dir: start the hub with `ca_broker.cert_hub(...)`).
    Not started."""
    b = ShippedBroker(pki=hub_ca_pki(tmp_path / "hub"))
    yield b
    b.remove()


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not PG_URL:
        pytest.skip("STOREGW_TEST_PG_URL is not set (CI sets it)")
    name = f"storegw_{uuid.uuid4().hex[:12]}"
    _pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    _pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The hub's database: its default SQLite file (None), or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (Debian's chromium through Playwright). Not per
    session: while Playwright's sync API is open it keeps an event loop running in the test
    thread, and asyncio.run / anyio tests of later modules in the same worker would fail."""
    from playwright.sync_api import expect, sync_playwright

    from rig.browser import CHROMIUM_ARGS, chromium_path

    # an assertion waits as long as an action (the page fixture's 10 s), not Playwright's 5 s:
    # on a loaded 2-core machine a page's update can take longer than 5 s to show
    expect.set_options(timeout=10_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies, no storage) and page for one test, laptop-sized."""
    from rig.browser import LAPTOP

    context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A failed test's report carries the tails of its processes' logs (hub, gateways, broker):
    a CI run on a clean clone keeps nothing else to read."""
    report = yield
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and call.when == "call" and tmp is not None:
        for log in sorted(Path(tmp).rglob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-60:]
            report.sections.append((f"log {log.relative_to(tmp)}", "\n".join(lines)))
    return report
