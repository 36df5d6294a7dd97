"""Headless Chromium for the screen tests: Debian's `chromium` driven by Playwright (the browser
is the machine's own, never a downloaded one), with screenshots kept as test artifacts.

Every page test takes the `page` fixture (tests/conftest.py): a fresh browser context per test,
so cookies and storage never leak between tests. Screenshots go to `artifacts/screens/` at the
project root (ignored by git), named by the caller: look at them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screens"
# a phone held upright (the pages must stay usable at 360 px) and a laptop
PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}


def chromium_path() -> str:
    """The machine's Chromium: STOREGW_CHROMIUM, else `chromium` on PATH (Debian's package)."""
    path = (
        os.environ.get("STOREGW_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        raise RuntimeError(
            "no Chromium: install Debian's `chromium` (deploy/setup.sh does)"
            " or set STOREGW_CHROMIUM"
        )
    return path


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot of `page` as artifacts/screens/<name>.png and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def outside_requests(page, allowed_host: str) -> list[str]:
    """Start recording every request `page` makes to a host other than `allowed_host`
    (host:port); returns the list it fills, so a test can assert that nothing left the box."""
    seen: list[str] = []

    def on_request(request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        host = url.split("//", 1)[-1].split("/", 1)[0]
        if host != allowed_host:
            seen.append(url)

    page.on("request", on_request)
    return seen


def pair_screen(page, base: str, code: str, lands_on: str) -> None:
    """Pair a lane screen or staff phone as a person does: open the pairing form, type the
    code the manager was given, and land on the screen it opens."""
    page.goto(f"{base}/lane/")
    page.fill("input[name=code]", code)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")
