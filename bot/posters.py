"""Printable A4 posters for a survey or a workshop: its Thai title, date and place, and a QR
code per channel that opens the chat with the survey's keyword already typed (or the workshop's
sign-up, where the channel can open it)."""

from __future__ import annotations

import io
import itertools
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

import icu
import segno
from PIL import Image, ImageDraw, ImageFont

from bot.text_cut import GRAPHEME
from bot.thai_font import thai_font

#: A4 at 150 dots per inch: sharp enough on paper, small enough to download in the field.
WIDTH, HEIGHT = 1240, 1754
MARGIN = 100
GREEN, INK, INK_SOFT, WHITE = (11, 110, 79), (31, 41, 51), (95, 107, 122), (255, 255, 255)
TITLE_SIZE, TITLE_SMALLEST, LINE_SIZE, LABEL_SIZE = 88, 56, 44, 36
#: At most this many lines of title before the font gets smaller.
TITLE_LINES = 3
QR_SIZE = 440


@dataclass(frozen=True)
class ChatLink:
    """Where a QR code leads: a channel's name as printed under it, and the link."""

    label: str
    url: str


def poster_png(heading: str, title: str, lines: Sequence[str], links: Sequence[ChatLink]) -> bytes:
    """The poster as a PNG: a green band with the heading, the title, the lines (date, place),
    then the QR codes side by side with their channel's name and link under each."""
    image = Image.new("RGB", (WIDTH, HEIGHT), WHITE)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 220), fill=GREEN)
    draw.text((MARGIN, 140), heading, font=thai_font(48), fill=WHITE, anchor="ls")
    font, wrapped = _fitting_title(title, WIDTH - 2 * MARGIN)
    y = 380
    for line in wrapped:
        draw.text((MARGIN, y), line, font=font, fill=INK, anchor="ls")
        y += int(font.size * 1.45)
    small = thai_font(LINE_SIZE)
    for line in lines:
        for part in wrap(line, small, WIDTH - 2 * MARGIN):
            y += int(LINE_SIZE * 1.5)
            draw.text((MARGIN, y), part, font=small, fill=INK_SOFT, anchor="ls")
    _draw_codes(image, links, top=max(y + 120, HEIGHT - QR_SIZE - 330))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _fitting_title(title: str, width: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest title font whose wrapping takes at most TITLE_LINES lines (or the smallest)."""
    for size in range(TITLE_SIZE, TITLE_SMALLEST - 1, -8):
        font = thai_font(size)
        lines = wrap(title, font, width)
        if len(lines) <= TITLE_LINES:
            return font, lines
    font = thai_font(TITLE_SMALLEST)
    return font, wrap(title, font, width)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of `text` no wider than `width`, broken where ICU's Thai line breaker allows (between
    words: Thai writes them without spaces), and a word too long for a line between whole
    graphemes, never inside one."""
    lines: list[str] = []
    line = ""
    for piece in line_break_pieces(text):
        if font.getlength((line + piece).rstrip()) <= width:
            line += piece
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        for grapheme in GRAPHEME.findall(piece):
            if font.getlength((line + grapheme).rstrip()) > width and line.strip():
                lines.append(line.rstrip())
                line = ""
            line += grapheme
    if line.strip():
        lines.append(line.rstrip())
    return lines


def line_break_pieces(text: str) -> list[str]:
    """The text cut at every place a line may break (ICU, Thai rules), spaces kept."""
    breaker = icu.BreakIterator.createLineInstance(icu.Locale("th"))
    breaker.setText(text)
    # ICU counts in UTF-16 units; a Python string counts code points (they differ for emoji)
    to_index, units = {0: 0}, 0
    for index, character in enumerate(text, start=1):
        units += 2 if ord(character) > 0xFFFF else 1
        to_index[units] = index
    cuts = [0, *(to_index[boundary] for boundary in breaker)]
    return [text[start:end] for start, end in itertools.pairwise(cuts) if end > start]


def _draw_codes(image: Image.Image, links: Sequence[ChatLink], top: int) -> None:
    """The QR codes, centred in a row, each with its channel and its link under it."""
    if not links:
        return
    draw = ImageDraw.Draw(image)
    label_font, url_font = thai_font(LABEL_SIZE), thai_font(22)
    slot = (WIDTH - 2 * MARGIN) // len(links)
    size = min(QR_SIZE, slot - 40)
    for index, link in enumerate(links):
        code = _qr_image(link.url, size)
        centre = MARGIN + slot * index + slot // 2
        image.paste(code, (centre - size // 2, top))
        draw.text((centre, top + size + 60), link.label, font=label_font, fill=INK, anchor="ms")
        for n, part in enumerate(_url_lines(link.url, url_font, slot - 20)):
            y = top + size + 100 + n * 30
            draw.text((centre, y), part, font=url_font, fill=INK_SOFT, anchor="ms")


def _qr_image(url: str, size: int) -> Image.Image:
    """The link as a QR code `size` pixels wide, with its quiet zone."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=10, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB").resize((size, size), Image.Resampling.NEAREST)


def _url_lines(url: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """The link printed for those who type it (Thai as Thai, not %-escapes), cut between
    graphemes to fit the slot."""
    lines, line = [], ""
    for character in GRAPHEME.findall(urllib.parse.unquote(url)):
        if font.getlength(line + character) > width and line:
            lines.append(line)
            line = ""
        line += character
    return [*lines, line][:3]
