"""The Thai font the bot draws pictures with (the rich menu, posters), shaped by raqm."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageFont, features

FONT_DIRS = (Path("/usr/share/fonts/truetype/tlwg"), Path("/usr/share/fonts/opentype/tlwg"))
FONT_NAMES = ("Loma-Bold", "Garuda-Bold")


def font_path() -> Path:
    """The first Thai font found from FONT_NAMES; a clear error if none is installed."""
    for name in FONT_NAMES:
        for directory in FONT_DIRS:
            for suffix in (".ttf", ".otf"):
                path = directory / f"{name}{suffix}"
                if path.is_file():
                    return path
    raise RuntimeError(
        f"no Thai font ({', '.join(FONT_NAMES)}) in {', '.join(map(str, FONT_DIRS))}: "
        "run `make system-deps` to install fonts-thai-tlwg"
    )


def thai_font(
    size: int, layout_engine: ImageFont.Layout = ImageFont.Layout.RAQM
) -> ImageFont.FreeTypeFont:
    """The Thai font at `size` pixels, refused when Pillow cannot shape Thai."""
    if layout_engine == ImageFont.Layout.RAQM and not features.check("raqm"):
        # Without raqm Pillow places Thai vowels and tone marks without shaping: they collide
        # or float, so a picture would be wrong rather than merely plain.
        raise RuntimeError("Pillow was built without raqm (libraqm), which Thai text needs")
    return ImageFont.truetype(str(font_path()), size, layout_engine=layout_engine)
