"""The LINE rich menu: six big tiles under the chat that send the bot's main commands.

The image is drawn here with Pillow (no image files to keep in step with the definition), at
LINE's full size so the tiles and their Thai labels are as large as LINE allows: many of the
carriage drivers are older, and read the menu on small phones.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bot.line.sender import LineSender
from bot.thai_font import thai_font

#: LINE's full rich-menu size; the image must match the declared size exactly.
WIDTH, HEIGHT = 2500, 1686
COLUMNS, ROWS = 3, 2
#: 2500 does not divide by 3: the last column is a pixel wider, and its card is centred in it.
TILE_WIDTH, TILE_HEIGHT = WIDTH // COLUMNS, HEIGHT // ROWS
#: LINE refuses rich-menu images over 1 MB.
MAX_IMAGE_BYTES = 1024 * 1024

GREEN = (6, 199, 85)  # LINE's brand green, #06C755
WHITE = (255, 255, 255)
INK = (17, 20, 24)  # near-black: the highest contrast on white without looking harsh
INK_SOFT = (60, 66, 72)

#: Bold first: thin strokes disappear when LINE shrinks the 2500px image to a phone's width.
#: Loma is compact, so the longest label fits larger; Garuda is the fallback. Debian's
#: fonts-thai-tlwg installs the TrueType files, fonts-tlwg-*-otf the OpenType ones.
LABEL_SIZE = 150  # the Thai labels' size if the longest one fits; shrunk together otherwise
CAPTION_SIZE = 68

#: Margin inside each tile: neighbouring tiles are parted by twice this, in green.
MARGIN = 14
CORNER = 48
#: Clear space kept on each side of a label, inside the card.
LABEL_PADDING = 60
ICON_CENTER_Y, ICON_RADIUS = 250, 150
LABEL_BASELINE, CAPTION_BASELINE = 605, 735
#: Shapes are drawn this many times larger and scaled down, since Pillow does not anti-alias them.
SUPERSAMPLE = 3

Draw = ImageDraw.ImageDraw
Icon = Callable[[Draw, float, float, float], None]


@dataclass(frozen=True)
class Tile:
    """One tile: what it says in Thai and English, its icon, and the text it sends."""

    label: str
    caption: str
    text: str
    icon: Icon


def _clipboard(draw: Draw, cx: float, cy: float, r: float) -> None:
    """A clipboard with a tick: 'fill in a form'."""
    w, h = 0.95 * r, 1.2 * r
    top = cy - h / 2 + 0.05 * r
    draw.rounded_rectangle((cx - w / 2, top, cx + w / 2, top + h), radius=0.12 * r, fill=WHITE)
    draw.rounded_rectangle(
        (cx - 0.25 * r, top - 0.14 * r, cx + 0.25 * r, top + 0.14 * r),
        radius=0.06 * r,
        fill=GREEN,
        outline=WHITE,
        width=round(0.07 * r),
    )
    tick = [
        (cx - 0.27 * r, cy + 0.08 * r),
        (cx - 0.07 * r, cy + 0.3 * r),
        (cx + 0.3 * r, cy - 0.17 * r),
    ]
    draw.line(tick, fill=GREEN, width=round(0.14 * r), joint="curve")


def _mortarboard(draw: Draw, cx: float, cy: float, r: float) -> None:
    """A graduate's cap: 'training'."""
    top = cy - 0.2 * r
    draw.polygon(
        [(cx - 0.75 * r, top), (cx, top - 0.35 * r), (cx + 0.75 * r, top), (cx, top + 0.35 * r)],
        fill=WHITE,
    )
    draw.polygon(
        [
            (cx - 0.45 * r, top + 0.15 * r),
            (cx + 0.45 * r, top + 0.15 * r),
            (cx + 0.45 * r, top + 0.62 * r),
            (cx, top + 0.78 * r),
            (cx - 0.45 * r, top + 0.62 * r),
        ],
        fill=WHITE,
    )
    # The tassel hangs from the cap's centre over its right edge.
    draw.line(
        [(cx, top), (cx + 0.62 * r, top + 0.05 * r), (cx + 0.62 * r, top + 0.55 * r)],
        fill=WHITE,
        width=round(0.06 * r),
    )
    draw.ellipse((cx + 0.53 * r, top + 0.5 * r, cx + 0.71 * r, top + 0.7 * r), fill=WHITE)


def _bar_chart(draw: Draw, cx: float, cy: float, r: float) -> None:
    """Three rising bars on a base line: 'my results'."""
    base, bar = cy + 0.48 * r, 0.26 * r
    for index, height in enumerate((0.45, 0.7, 0.98)):
        left = cx - 0.5 * r + index * 0.37 * r
        draw.rounded_rectangle(
            (left, base - height * r, left + bar, base), radius=0.05 * r, fill=WHITE
        )
    draw.line(
        [(cx - 0.62 * r, base + 0.08 * r), (cx + 0.62 * r, base + 0.08 * r)],
        fill=WHITE,
        width=round(0.08 * r),
    )


def _question_mark(draw: Draw, cx: float, cy: float, r: float) -> None:
    """A question mark drawn as strokes, so it looks the same whatever font is installed."""
    stroke, bowl, bowl_cy = 0.18 * r, 0.32 * r, cy - 0.28 * r
    # The hook: round the bowl from its left side over the top to the bottom, then straight down.
    hook = [
        (cx + bowl * math.cos(math.radians(a)), bowl_cy + bowl * math.sin(math.radians(a)))
        for a in range(170, 451, 10)
    ]
    hook.append((cx, cy + 0.24 * r))
    draw.line(hook, fill=WHITE, width=round(stroke), joint="curve")
    for x, y in (hook[0], hook[-1]):  # round caps on the two free ends
        draw.ellipse((x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2), fill=WHITE)
    dot = 0.11 * r
    draw.ellipse((cx - dot, cy + 0.5 * r - dot, cx + dot, cy + 0.5 * r + dot), fill=WHITE)


def _person(draw: Draw, cx: float, cy: float, r: float) -> None:
    """A head and shoulders: 'what you keep about me'."""
    head = 0.27 * r
    draw.ellipse((cx - head, cy - 0.52 * r, cx + head, cy - 0.52 * r + 2 * head), fill=WHITE)
    draw.pieslice((cx - 0.6 * r, cy + 0.08 * r, cx + 0.6 * r, cy + 1.08 * r), 180, 360, fill=WHITE)


def _globe(draw: Draw, cx: float, cy: float, r: float) -> None:
    """A globe of lines: 'language'."""
    g, stroke = 0.58 * r, round(0.08 * r)
    draw.ellipse((cx - g, cy - g, cx + g, cy + g), outline=WHITE, width=stroke)
    draw.ellipse((cx - 0.42 * g, cy - g, cx + 0.42 * g, cy + g), outline=WHITE, width=stroke)
    draw.line([(cx - g, cy), (cx + g, cy)], fill=WHITE, width=stroke)
    draw.line([(cx, cy - g), (cx, cy + g)], fill=WHITE, width=stroke)
    for y in (cy - 0.5 * g, cy + 0.5 * g):
        half = g * math.sqrt(1 - 0.25)
        draw.line([(cx - half, y), (cx + half, y)], fill=WHITE, width=stroke)


#: The tiles, left to right and top to bottom; each text is a command or keyword the bot knows.
#: The caption is English, so a respondent who chose English finds their way too.
ITEMS: tuple[Tile, ...] = (
    Tile("เริ่มแบบประเมิน", "Start assessment", "ประเมิน", _clipboard),
    Tile("อบรม", "Training", "อบรม", _mortarboard),
    Tile("ผลของฉัน", "My results", "ผลของฉัน", _bar_chart),
    Tile("ข้อมูลของฉัน", "My data", "ข้อมูลของฉัน", _person),
    Tile("ภาษา", "Language", "ภาษา", _globe),
    Tile("ช่วยเหลือ", "Help", "ช่วยเหลือ", _question_mark),
)


def tile_bounds(index: int) -> dict[str, int]:
    """Where tile `index` sits on the image, as LINE's area bounds (together they cover it)."""
    row, column = divmod(index, COLUMNS)
    left, right = column * WIDTH // COLUMNS, (column + 1) * WIDTH // COLUMNS
    top, bottom = row * HEIGHT // ROWS, (row + 1) * HEIGHT // ROWS
    return {"x": left, "y": top, "width": right - left, "height": bottom - top}


def menu_definition() -> dict[str, Any]:
    """The rich menu object in LINE's JSON, with one message action per tile."""
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": "Lampang survey main menu",
        "chatBarText": "เมนู",
        "areas": [
            {
                "bounds": tile_bounds(index),
                # The label is what screen readers announce for the tile.
                "action": {"type": "message", "label": tile.label, "text": tile.text},
            }
            for index, tile in enumerate(ITEMS)
        ],
    }


def _label_size(labels: Sequence[str], layout_engine: ImageFont.Layout) -> int:
    """LABEL_SIZE, or smaller so the longest label fits its tile, the same for every tile."""
    room = TILE_WIDTH - 2 * (MARGIN + LABEL_PADDING)
    widest = max(thai_font(LABEL_SIZE, layout_engine).getlength(label) for label in labels)
    return min(LABEL_SIZE, int(LABEL_SIZE * room / widest))


def draw_tile(tile: Tile, layout_engine: ImageFont.Layout = ImageFont.Layout.RAQM) -> Image.Image:
    """One tile's image: white card on green, icon in a green disc, Thai label, English caption."""
    big = Image.new("RGB", (TILE_WIDTH * SUPERSAMPLE, TILE_HEIGHT * SUPERSAMPLE), GREEN)
    draw = ImageDraw.Draw(big)
    s = SUPERSAMPLE
    inset = MARGIN * s
    draw.rounded_rectangle(
        (inset, inset, big.width - inset, big.height - inset), radius=CORNER * s, fill=WHITE
    )
    cx, cy, r = TILE_WIDTH / 2 * s, ICON_CENTER_Y * s, ICON_RADIUS * s
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=GREEN)
    tile.icon(draw, cx, cy, r)
    image = big.resize((TILE_WIDTH, TILE_HEIGHT), Image.Resampling.LANCZOS)

    # Text is drawn at the final size: FreeType anti-aliases it already. Anchoring on the
    # baseline keeps the labels level across tiles, whatever marks sit above or below.
    draw = ImageDraw.Draw(image)
    label_font = thai_font(_label_size([t.label for t in ITEMS], layout_engine), layout_engine)
    caption_font = thai_font(CAPTION_SIZE, layout_engine)
    middle = TILE_WIDTH / 2
    draw.text((middle, LABEL_BASELINE), tile.label, font=label_font, fill=INK, anchor="ms")
    draw.text(
        (middle, CAPTION_BASELINE), tile.caption, font=caption_font, fill=INK_SOFT, anchor="ms"
    )
    return image


def menu_image() -> bytes:
    """The rich menu's PNG, WIDTH x HEIGHT, under LINE's 1 MB limit."""
    image = Image.new("RGB", (WIDTH, HEIGHT), GREEN)
    for index, tile in enumerate(ITEMS):
        bounds = tile_bounds(index)
        left = bounds["x"] + (bounds["width"] - TILE_WIDTH) // 2
        image.paste(draw_tile(tile), (left, bounds["y"] + (bounds["height"] - TILE_HEIGHT) // 2))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    png = buffer.getvalue()
    if len(png) > MAX_IMAGE_BYTES:
        raise RuntimeError(f"rich menu image is {len(png)} bytes; LINE allows {MAX_IMAGE_BYTES}")
    return png


def setup_rich_menu(sender: LineSender) -> str:
    """Create the rich menu with its image and make it every user's default; returns its id."""
    return sender.create_rich_menu(menu_definition(), menu_image())
