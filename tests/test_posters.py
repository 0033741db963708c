"""Posters: an A4 PNG whose QR codes, decoded, are the chat links that open the survey or the
workshop, on LINE and Telegram; the Thai title drawn whole."""

from __future__ import annotations

import io
from urllib.parse import quote

import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot.posters import WIDTH, wrap
from bot.telegram.links import keyword_payload, read_payload, workshop_payload
from bot.thai_font import thai_font
from storage.models import Workshop
from tests.console_user import ConsoleUser, add_account
from tests.telegram_user import app_with_telegram

COORDINATOR = "coord@example.org"
LONG_TITLE = "การพัฒนาผู้ประกอบการสร้างสรรค์ด้านการตลาดบนสื่อออนไลน์และโซเชียลมีเดีย"


def decoded(png: bytes) -> list[str]:
    """The texts of every QR code in the picture."""
    image = Image.open(io.BytesIO(png))
    assert image.size == (WIDTH, 1754), "A4 at 150 dpi"
    return sorted(result.text for result in zxingcpp.read_barcodes(image))


def test_posters_carry_the_line_and_telegram_links_that_open_the_chat(
    database_url, clock, fake_telegram
) -> None:
    """A survey's poster types its keyword in LINE and starts it in Telegram; a workshop's
    opens its sign-up in Telegram (and the workshop list in LINE)."""
    app = next(
        app_with_telegram(
            database_url, clock, fake_telegram, LINE_BASIC_ID="@123abcde", LINE_CHANNEL_SECRET="s"
        )
    )
    add_account(app, COORDINATOR, "coordinator")
    user = ConsoleUser(app)
    user.sign_in(COORDINATOR)
    home = user.get("/console/")
    assert "/console/posters/survey/active_citizen.png" in user.text()
    answer = user.client.get("/console/posters/survey/active_citizen.png")
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert decoded(answer.data) == sorted(
        [
            f"https://line.me/R/oaMessage/%40123abcde/?{quote('ประเมิน')}",
            f"https://t.me/{fake_telegram.bot_username}?start={keyword_payload('ประเมิน')}",
        ]
    )
    with app.extensions["runtime"].db() as session:
        workshop_id = session.scalars(select(Workshop.id).order_by(Workshop.id)).first()
    poster = user.client.get(f"/console/posters/workshop/{workshop_id}.png")
    telegram = next(link for link in decoded(poster.data) if link.startswith("https://t.me/"))
    assert read_payload(telegram.split("start=")[1]) == ("workshop", str(workshop_id))
    assert telegram.endswith(workshop_payload(workshop_id))
    assert home.status_code == 200


def test_a_researcher_gets_no_poster(app) -> None:
    """Posters are for those who run workshops."""
    add_account(app, "r@example.org", "researcher")
    user = ConsoleUser(app)
    user.sign_in("r@example.org")
    assert user.client.get("/console/posters/survey/active_citizen.png").status_code == 403


def test_a_long_thai_title_wraps_between_whole_graphemes() -> None:
    """A title with no spaces is cut into lines that fit, between words (ICU's Thai line
    breaker), and joined back is the title: no vowel or tone mark left without its consonant."""
    font = thai_font(88)
    lines = wrap(LONG_TITLE, font, 1040)
    assert len(lines) > 1 and "".join(lines) == LONG_TITLE
    assert all(font.getlength(line) <= 1040 for line in lines)
    marks = "ัิีึืฺุู็่้๊๋์ํ๎ำ"
    assert not any(line[0] in marks for line in lines), lines
    # between words, where a Thai reader pauses: not inside สร้างสรรค์ or ออนไลน์
    assert not any(line.endswith(("สร้าง", "ออน")) for line in lines), lines


def test_emoji_before_thai_does_not_shift_the_breaks() -> None:
    """ICU counts in UTF-16 units: an emoji (two of them) before the Thai must not move the
    cuts off the word boundaries."""
    from bot.posters import line_break_pieces

    assert line_break_pieces("😊 สวัสดีค่ะ") == ["😊 ", "สวัสดี", "ค่ะ"]
