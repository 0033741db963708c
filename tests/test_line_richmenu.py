"""The LINE rich menu: its definition, its image, and the command that sets it up."""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import combinations

import pytest
from flask import Flask
from linebot.v3.messaging import RichMenuRequest
from PIL import Image, ImageChops, ImageFont

from bot import create_app, thai_font
from bot.line import richmenu
from bot.line.richmenu import ITEMS, draw_tile, menu_definition, menu_image, tile_bounds
from tests.chat import Respondent
from tests.fake_line import FakeLine

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Text is near-black; the green, white and icon pixels are all far lighter than this.
DARK = 80


@pytest.fixture(scope="module")
def png() -> bytes:
    """The menu's PNG, drawn once for the module."""
    return menu_image()


def line_app_for(database_url: str, clock, fake_line: FakeLine, token: str) -> Flask:
    """The app pointed at the fake LINE API, with this channel access token ('' for none)."""
    return create_app(
        {
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "TESTING": True,
            "LINE_CHANNEL_ACCESS_TOKEN": token,
            "PUBLIC_BASE_URL": "https://bot.example.org",
            "LINE_API_BASE_URL": fake_line.base_url,
            "DELIVER_AFTER_COMMIT": False,
            "SIMULATOR_ENABLED": True,
        }
    )


@pytest.fixture
def line_app(database_url, clock, fake_line) -> Iterator[Flask]:
    """The app wired to the fake LINE API with a valid token."""
    app = line_app_for(database_url, clock, fake_line, fake_line.token)
    yield app
    app.extensions["runtime"].close()


@pytest.fixture
def tokenless_app(database_url, clock, fake_line) -> Iterator[Flask]:
    """The app with no channel access token configured."""
    app = line_app_for(database_url, clock, fake_line, "")
    yield app
    app.extensions["runtime"].close()


def box(bounds: dict[str, int]) -> tuple[int, int, int, int]:
    """LINE area bounds as a Pillow box (left, top, right, bottom)."""
    x, y = bounds["x"], bounds["y"]
    return x, y, x + bounds["width"], y + bounds["height"]


# -- the definition ------------------------------------------------------------------------------


def test_the_definition_loads_through_the_sdk_model() -> None:
    menu = menu_definition()
    request = RichMenuRequest.from_dict(menu)

    assert (request.size.width, request.size.height) == (richmenu.WIDTH, richmenu.HEIGHT)
    assert request.selected is True
    assert request.chat_bar_text == "เมนู"
    assert [area.action.text for area in request.areas] == [
        "ประเมิน",
        "อบรม",
        "ผลของฉัน",
        "ข้อมูลของฉัน",  # the PDPA's "see my data"
        "ภาษา",
        "ช่วยเหลือ",
    ]
    # LINE's limits: action labels up to 20 characters, chat bar text up to 14.
    assert all(len(area.action.label) <= 20 for area in request.areas)
    assert len(request.chat_bar_text) <= 14


def test_the_areas_tile_the_image_without_overlap() -> None:
    boxes = [box(area["bounds"]) for area in menu_definition()["areas"]]

    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= richmenu.WIDTH
        assert 0 <= top < bottom <= richmenu.HEIGHT
    for a, b in combinations(boxes, 2):
        overlap_x = min(a[2], b[2]) - max(a[0], b[0])
        overlap_y = min(a[3], b[3]) - max(a[1], b[1])
        assert overlap_x <= 0 or overlap_y <= 0, (a, b)
    # Inside the image and disjoint, they cover it exactly when their areas add up to it.
    covered = sum((right - left) * (bottom - top) for left, top, right, bottom in boxes)
    assert covered == richmenu.WIDTH * richmenu.HEIGHT


def test_every_tile_sends_a_text_the_bot_answers(client) -> None:
    """Each text is answered (some with the bot's menu, if not a command of their own yet)."""
    for area in menu_definition()["areas"]:
        respondent = Respondent(client)
        respondent.onboard()

        replies = respondent.say(area["action"]["text"])

        assert replies, area["action"]["text"]
        assert all(reply["text"] for reply in replies)


# -- the image -----------------------------------------------------------------------------------


def test_the_image_is_a_png_of_the_declared_size_under_lines_limit(png: bytes) -> None:
    size = menu_definition()["size"]
    image = Image.open(io.BytesIO(png))

    assert png.startswith(PNG_SIGNATURE)
    assert image.format == "PNG"
    assert image.size == (2500, size["height"]) == (size["width"], size["height"])
    assert len(png) < 1024 * 1024


def test_every_tile_has_dark_text_on_it(png: bytes) -> None:
    image = Image.open(io.BytesIO(png)).convert("L")

    for area in menu_definition()["areas"]:
        tile = image.crop(box(area["bounds"]))
        dark = sum(tile.point(lambda value: 255 if value < DARK else 0).histogram()[255:])
        assert dark > 5000, area["action"]["text"]


def test_thai_is_shaped_by_raqm_in_the_menu(png: bytes) -> None:
    """RAQM moves vowels and tone marks; BASIC would leave them misplaced."""
    shaped = draw_tile(ITEMS[0])
    unshaped = draw_tile(ITEMS[0], layout_engine=ImageFont.Layout.BASIC)
    menu = Image.open(io.BytesIO(png)).convert("RGB")

    changed = ImageChops.difference(shaped, unshaped).getbbox()
    assert changed is not None
    # Only the text differs, never the icon above it.
    assert changed[1] > richmenu.ICON_CENTER_Y + richmenu.ICON_RADIUS
    # The menu carries the shaped tile, pixel for pixel.
    assert ImageChops.difference(menu.crop(box(tile_bounds(0))), shaped).getbbox() is None


def test_a_missing_thai_font_says_how_to_install_one(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(thai_font, "FONT_DIRS", (tmp_path,))

    with pytest.raises(RuntimeError, match="make system-deps"):
        menu_image()


# -- the command ---------------------------------------------------------------------------------


def test_setup_richmenu_creates_uploads_and_sets_the_default(
    line_app: Flask, fake_line: FakeLine
) -> None:
    result = line_app.test_cli_runner().invoke(args=["line", "setup-richmenu"])

    assert result.exit_code == 0, result.output
    [menu_id] = fake_line.rich_menus
    assert menu_id in result.output
    assert fake_line.rich_menus[menu_id] == menu_definition()
    content_type, uploaded = fake_line.rich_menu_images[menu_id]
    assert content_type == "image/png"
    assert Image.open(io.BytesIO(uploaded)).size == (richmenu.WIDTH, richmenu.HEIGHT)
    assert fake_line.default_rich_menu == menu_id


def test_setup_richmenu_reports_a_refusal_and_leaves_no_menu(
    line_app: Flask, fake_line: FakeLine
) -> None:
    fake_line.fail_next(400, path_contains="/content")

    result = line_app.test_cli_runner().invoke(args=["line", "setup-richmenu"])

    assert result.exit_code != 0
    assert "LINE refused the rich menu: 400" in result.output
    assert fake_line.rich_menus == {}
    assert fake_line.default_rich_menu is None


def test_setup_richmenu_without_a_token_fails_clearly(
    tokenless_app: Flask, fake_line: FakeLine
) -> None:
    result = tokenless_app.test_cli_runner().invoke(args=["line", "setup-richmenu"])

    assert result.exit_code != 0
    assert "LINE_CHANNEL_ACCESS_TOKEN is not set" in result.output
    assert fake_line.requests == []


def test_save_only_writes_the_png(tokenless_app: Flask, fake_line: FakeLine, tmp_path) -> None:
    path = tmp_path / "menu.png"

    result = tokenless_app.test_cli_runner().invoke(
        args=["line", "setup-richmenu", "--save", str(path)]
    )

    assert result.exit_code == 0, result.output
    assert Image.open(path).size == (richmenu.WIDTH, richmenu.HEIGHT)
    assert fake_line.requests == []
