"""What may leave the gateway in a diagnostics bundle: secrets (tokens, passwords, keys) and
members' data (phone numbers, member ids, names, card numbers) are replaced by a marker.

Three nets, from surest to broadest: the secrets the gateway knows by value (its lane token,
keys in devices.toml, the set-up code) are replaced wherever they appear; values of sensitive
keys (`api_key = …`, `"phone": …`, `member_id=…`, `Bearer …`) are replaced whatever they are;
and anything shaped like a mainland mobile number or an ID-card number is replaced anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SECRET = "[secret]"
PERSONAL = "[personal]"

# keys whose values are secrets, and keys whose values are a member's data
SECRET_KEYS = r"(?:api_?key|token|password|passwd|secret|private_?key|key|auth_?code|code|pin)"
PERSONAL_KEYS = (
    r"(?:phone|mobile|tel|member_?id|member|member_?name|customer|name|card_?no|id_?no|"
    r"id_?number|birthday|email|address)"
)
# `key = "v"`, `key: v`, `"key": "v"`, `key=v`
_KV = r"""(?i)(?P<k>["']?\b[\w-]*?{keys}\b["']?\s*[:=]\s*)(?P<v>"[^"]*"|'[^']*'|[^\s,;&}}\]]+)"""
SECRET_KV = re.compile(_KV.format(keys=SECRET_KEYS))
PERSONAL_KV = re.compile(_KV.format(keys=PERSONAL_KEYS))
BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
# a mainland mobile number (11 digits from 13x-19x, optionally +86), an ID-card number
PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
ID_CARD = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
# `member M0001`, `member_id M0001` in prose
MEMBER_WORD = re.compile(r"(?i)(\bmember(?:[ _]?id)?\s+)([A-Za-z0-9][A-Za-z0-9_-]{2,63})")


def _mark(marker: str) -> Any:
    def sub(m: re.Match[str]) -> str:
        v = m.group("v")
        quote = v[0] if v[:1] in ('"', "'") else ""
        return f"{m.group('k')}{quote}{marker}{quote}"

    return sub


class Redactor:
    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret containing another is replaced whole
        self.known = sorted({s for s in known_secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.known:
            text = text.replace(s, SECRET)
        text = BEARER.sub(lambda m: m.group(1) + SECRET, text)
        text = SECRET_KV.sub(_mark(SECRET), text)
        text = PERSONAL_KV.sub(_mark(PERSONAL), text)
        text = MEMBER_WORD.sub(lambda m: m.group(1) + PERSONAL, text)
        text = PHONE.sub(PERSONAL, text)
        return ID_CARD.sub(PERSONAL, text)

    def value(self, obj: Any) -> Any:
        """A JSON-like value with every string redacted, and sensitive keys' values replaced."""
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if isinstance(k, str) and re.fullmatch(SECRET_KEYS, k, re.I) and v:
                    out[k] = SECRET
                elif isinstance(k, str) and re.fullmatch(PERSONAL_KEYS, k, re.I) and v:
                    out[k] = PERSONAL
                else:
                    out[k] = self.value(v)
            return out
        if isinstance(obj, list | tuple):
            return [self.value(v) for v in obj]
        if isinstance(obj, str):
            return self(obj)
        return obj
