"""The CJK font the receipt previews draw with (protocols/escpos/preview.py takes its path):
$STOREGW_CJK_FONT, or the first known one installed (WenQuanYi Micro Hei, Noto CJK, Droid
fallback); None when there is none."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

CJK_FONTS = (
    "truetype/wqy/wqy-microhei.ttc",
    "truetype/wqy/wqy-zenhei.ttc",
    "opentype/noto/NotoSansCJK-Regular.ttc",
    "truetype/droid/DroidSansFallbackFull.ttf",
)


@cache
def cjk_font_path() -> str | None:
    env = os.environ.get("STOREGW_CJK_FONT")
    if env and Path(env).exists():
        return env
    for base in ("/usr/share/fonts", "/usr/local/share/fonts"):
        for rel in CJK_FONTS:
            if (Path(base) / rel).exists():
                return str(Path(base) / rel)
    return None
