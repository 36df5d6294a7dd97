"""What a printer would print, from its bytes: receipts (split at each cut) as text lines laid
out in the paper's columns, and as PNG (Pillow) for the technician page and e-receipts.

The PNG wants a CJK font: the caller passes its path (the gateway finds one, edge/fonts.py: a
protocol does no I/O of its own); without one it draws each CJK character as a marked box, so
a missing font never breaks a preview."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from protocols.escpos import text as tx
from protocols.escpos.decoder import (
    Barcode,
    Cut,
    Event,
    Feed,
    Image,
    Line,
    PrintItem,
    QRCode,
    decode,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from PIL import ImageFont

# Pillow is imported in the functions that draw: a gateway that never draws a preview never
# loads it (the text preview and the receipt split need none of it).

TEAR_FEED = 6  # our receipts end with ESC d 6 where there is no cutter


@dataclass
class Receipt:
    items: list[PrintItem] = field(default_factory=list)
    cut: bool = False  # False: bytes ended before a cut (a torn or unfinished receipt)


def receipts(events: list[Event], tear_feed: int | None = None) -> list[Receipt]:
    """Split at each cut — or, for a printer without a cutter, at each feed of at least
    `tear_feed` lines (where the cashier tears the paper off)."""
    out: list[Receipt] = [Receipt()]
    for ev in events:
        tear = tear_feed is not None and isinstance(ev, Feed) and ev.lines >= tear_feed
        if isinstance(ev, Cut) or tear:
            if out[-1].items:
                out[-1].cut = True
                out.append(Receipt())
            elif isinstance(ev, Cut) and len(out) > 1:
                out[-2].cut = True  # the feed before the cut already ended it
        elif isinstance(ev, Line | Barcode | QRCode | Image):
            out[-1].items.append(ev)
    if not out[-1].items:
        out.pop()
    return out


def item_text(item: PrintItem, columns: int) -> str:
    if isinstance(item, Line):
        text = item.text
        cols = columns // 2 if item.style.wide else columns
        if item.style.wide:  # a double-width line holds half as many characters
            text = tx.clip(text, cols)
        if item.style.align == "center":
            text = tx.center(text, cols)
        elif item.style.align == "right":
            text = tx.rjust(text, cols)
        return text.rstrip()
    if isinstance(item, Barcode):
        label = f"[{item.symbology} {item.data}]"
    elif isinstance(item, QRCode):
        label = f"[QR {item.data}]"
    else:
        label = f"[image {item.width}x{item.height}]"
    # a code's content is shown whole, even when wider than the paper
    return label if tx.width(label) > columns else tx.center(label, columns).rstrip()


def receipt_text(receipt: Receipt, columns: int) -> str:
    return "\n".join(item_text(i, columns) for i in receipt.items) + "\n"


def text_preview(data: bytes, columns: int, *, hanzi_default: bool = False) -> str:
    """Every receipt in `data` as text, receipts separated by a scissors line."""
    events = decode(data, hanzi_default=hanzi_default)
    parts = [receipt_text(r, columns) for r in receipts(events, TEAR_FEED)]
    return ("-" * 8 + " ✂ " + "-" * 8 + "\n").join(parts)


# --- PNG ---------------------------------------------------------------------------------
@cache
def _font(size: int, path: str | None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _line_image(
    item: Line, dots: int, columns: int, font_path: str | None = None
) -> PILImage.Image:
    """Draw at font A size (12 x 24 dots a column), then stretch for double width / height."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    cell = dots // columns
    scale_w, scale_h = (2 if item.style.wide else 1), (2 if item.style.tall else 1)
    cols = columns // scale_w
    img = PILImage.new("1", (cols * cell, 24), 1)
    draw = ImageDraw.Draw(img)
    free = max(cols - tx.width(item.text), 0)
    col = {"center": free // 2, "right": free}.get(item.style.align, 0)
    font = _font(19, font_path)
    has_font = font_path is not None
    for ch in item.text:
        w = tx.char_width(ch)
        if col + w > cols:
            break
        x = col * cell
        if w == 2 and not has_font:
            # no CJK font here: a marked box where the character would be
            draw.rectangle([x + 1, 2, x + 2 * cell - 2, 21], outline=0)
            draw.line([x + 1, 2, x + 2 * cell - 2, 21], fill=0)
        elif ch != " ":
            # centre each glyph in its cells: proportional fonts still line up in columns
            gx = x + (w * cell - draw.textlength(ch, font=font)) / 2
            for dx in (0, 1) if item.style.bold else (0,):
                draw.text((gx + dx, 1), ch, font=font, fill=0)
        col += w
    if scale_w == 1 and scale_h == 1:
        return img
    return img.resize((img.width * scale_w, 24 * scale_h))


def _barcode_image(item: Barcode, dots: int, font_path: str | None) -> PILImage.Image:
    import barcode as pybarcode  # python-escpos brings python-barcode
    from PIL import Image as PILImage
    from PIL import ImageDraw

    try:
        pattern = pybarcode.get(item.symbology.lower().replace("-", ""), item.data).build()[0]
    except Exception:  # a symbology python-barcode lacks: draw the data only
        pattern = ""
    module = max(1, min(2, (dots - 20) // max(len(pattern), 1)))
    img = PILImage.new("1", (dots, 84), 1)
    draw = ImageDraw.Draw(img)
    x0 = (dots - len(pattern) * module) // 2
    for i, bit in enumerate(pattern):
        if bit == "1":
            draw.rectangle([x0 + i * module, 2, x0 + (i + 1) * module - 1, 60], fill=0)
    font = _font(18, font_path)
    tw = draw.textlength(item.data, font=font)
    draw.text(((dots - tw) / 2, 62), item.data, font=font, fill=0)
    return img


def _qr_image(item: QRCode, dots: int) -> PILImage.Image:
    import qrcode  # python-escpos brings qrcode
    from PIL import Image as PILImage
    from PIL import ImageDraw

    qr = qrcode.QRCode(border=2, box_size=5)
    qr.add_data(item.data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    box = max(2, min(6, dots // (len(matrix) + 4)))
    side = len(matrix) * box
    img = PILImage.new("1", (dots, side + 4), 1)
    draw = ImageDraw.Draw(img)
    x0 = (dots - side) // 2
    for r, row in enumerate(matrix):
        for c, on in enumerate(row):
            if on:
                draw.rectangle(
                    [x0 + c * box, 2 + r * box, x0 + (c + 1) * box - 1, 2 + (r + 1) * box - 1],
                    fill=0,
                )
    return img


def receipt_png(receipt: Receipt, dots: int, columns: int, font_path: str | None = None) -> bytes:
    """One receipt as a 1-bit PNG as wide as the paper's dots (384 or 576); `font_path`: a
    CJK font (None: CJK characters as marked boxes)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    blocks: list[PILImage.Image] = []
    for item in receipt.items:
        if isinstance(item, Line):
            blocks.append(_line_image(item, dots, columns, font_path))
        elif isinstance(item, Barcode):
            blocks.append(_barcode_image(item, dots, font_path))
        elif isinstance(item, QRCode):
            blocks.append(_qr_image(item, dots))
        else:
            img = PILImage.new("1", (dots, min(item.height, 200)), 1)
            ImageDraw.Draw(img).rectangle(
                [0, 0, min(item.width, dots) - 1, img.height - 1], outline=0
            )
            blocks.append(img)
    height = sum(b.height for b in blocks) + 24
    page = PILImage.new("1", (dots, max(height, 24)), 1)
    y = 0
    for b in blocks:
        page.paste(b, (0, y))
        y += b.height
    if receipt.cut:  # dashed cut line
        draw = ImageDraw.Draw(page)
        for x in range(0, dots, 12):
            draw.line([x, y + 12, x + 6, y + 12], fill=0)
    buf = io.BytesIO()
    page.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def png_preview(
    data: bytes,
    dots: int,
    columns: int,
    *,
    hanzi_default: bool = False,
    font_path: str | None = None,
) -> list[bytes]:
    """Each receipt in `data` as PNG bytes."""
    events = decode(data, hanzi_default=hanzi_default)
    return [receipt_png(r, dots, columns, font_path) for r in receipts(events, TEAR_FEED)]
