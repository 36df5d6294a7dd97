"""The console's catalogs: the same keys in every language, and every key the templates and
the menu use is in them (a missing one would show as its bare key)."""

from __future__ import annotations

import re
from pathlib import Path

from hub.accounts.roles import ROLES
from hub.console import i18n, nav

TEMPLATES = Path(i18n.__file__).parent / "templates"


def test_catalogs_have_the_same_keys() -> None:
    keys = {lang: set(i18n.catalog(lang)) for lang in i18n.LANGS}
    assert keys["zh"] == keys["en"], keys["zh"] ^ keys["en"]


def test_every_key_used_is_in_the_catalog() -> None:
    used = {p.label for p in nav.NAV} | {f"role.{r}" for r in ROLES}
    used |= {f"lang.{lang}" for lang in i18n.LANGS}
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""t\('([\w.]+)'\)""", template.read_text(encoding="utf-8")))
    assert len(used) > 20
    assert used - set(i18n.catalog("zh")) == set()


def test_t_falls_back_to_the_key_and_chinese_is_the_default() -> None:
    assert i18n.pick(None) == "zh" and i18n.pick("fr") == "zh"
    assert i18n.translator("en")("nav.home") == "Home"
    assert i18n.translator("zh")("no.such.key") == "no.such.key"
