"""The console's languages: one message catalog per language (messages/<lang>.json, flat keys
like "nav.home"), Chinese by default. A missing key shows the key itself, so a gap is visible
on the page (and tests/hub/console/test_i18n.py keeps the catalogs' keys equal)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT = "zh"
COOKIE = "storegw_lang"
_DIR = Path(__file__).parent / "messages"


@cache
def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def pick(value: str | None) -> str:
    return value if value in LANGS else DEFAULT


def translator(lang: str) -> Callable[..., str]:
    messages = catalog(pick(lang))

    def t(key: str, **values: object) -> str:
        text = messages.get(key, key)
        return text.format(**values) if values else text

    return t
