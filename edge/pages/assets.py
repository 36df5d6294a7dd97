"""The shop-floor pages in one response (issue 12: the cashier page's cold load under 1 s).

A cold browser paid a round trip for each of the page's small assets (a stylesheet and two or
three scripts, ~12 KB together) before any script ran and asked for the basket. `inline`
puts each `<link rel="stylesheet" href="/pages/static/…">` and `<script src="/pages/static/…">`
the templates name into the page itself, so the templates keep naming their files (and a new
one joins by naming it), and returns the SHA-256 sources the Content-Security-Policy must
allow for exactly those inline blocks — no `'unsafe-inline'`. Files are read once and again
only when they change on disk (a developer editing them sees the change)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).parent / "static"
_TAG = re.compile(
    r'<link rel="stylesheet" href="/pages/static/(?P<css>[\w.-]+\.css)">'
    r'|<script src="/pages/static/(?P<js>[\w.-]+\.js)"></script>'
)
_cache: dict[str, tuple[float, str, str]] = {}  # name → (mtime, text, CSP source)


def _read(name: str) -> tuple[str, str]:
    path = STATIC / name
    mtime = path.stat().st_mtime
    got = _cache.get(name)
    if got is None or got[0] != mtime:
        text = path.read_text("utf-8")
        if "</script" in text.lower() or "</style" in text.lower():
            raise ValueError(f"{name} cannot be inlined: it closes its own element")
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        got = _cache[name] = (mtime, text, f"'sha256-{digest}'")
    return got[1], got[2]


def inline(html: str) -> tuple[str, list[str], list[str]]:
    """(the page with its static assets inlined, script hash sources, style hash sources)."""
    scripts: list[str] = []
    styles: list[str] = []

    def one(m: re.Match[str]) -> str:
        if m["css"]:
            text, src = _read(m["css"])
            styles.append(src)
            return f"<style>{text}</style>"
        text, src = _read(m["js"])
        scripts.append(src)
        return f"<script>{text}</script>"

    return _TAG.sub(one, html), scripts, styles


def csp(scripts: list[str], styles: list[str]) -> str:
    """The pages' policy: their own origin, and the inline blocks `inline` made, by hash."""
    script_src = " ".join(["'self'", *dict.fromkeys(scripts)])
    style_src = " ".join(["'self'", *dict.fromkeys(styles)])
    return (
        f"default-src 'self'; img-src 'self' data:; style-src {style_src}; "
        f"script-src {script_src}; connect-src 'self'; frame-ancestors 'none'"
    )
