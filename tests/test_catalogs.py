"""The message catalogs: every text the code can say exists in Thai and in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"Msg": None, "say": None, "translate": None, "_": None, "gettext": None}
#: Python sources, and the console's Jinja templates (which call _()).
METHODS = [("**.py", "python"), ("**/templates/console/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def used_keys() -> set[str]:
    """Every message key the engine and the shell use, found the way `make extract-locales` does."""
    keys: set[str] = set()
    for package in ("survey_flows", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), method_map=METHODS, keywords=KEYWORDS, comment_tags=()
        ):
            keys.add(message if isinstance(message, str) else message[0])
    return keys


def catalog(language: str):
    """The .po catalog of a language."""
    with (ROOT / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file)


@pytest.mark.parametrize("language", ["th", "en"])
def test_every_message_is_translated(language: str) -> None:
    """No key the code uses is missing or empty in the catalog, and none is fuzzy."""
    messages = {m.id: m for m in catalog(language) if m.id}
    missing = sorted(key for key in used_keys() if not (key in messages and messages[key].string))
    assert missing == [], f"{language} lacks: {missing}"
    assert [m.id for m in messages.values() if m.fuzzy] == []


def test_thai_and_english_use_the_same_placeholders() -> None:
    """A {placeholder} in one language is in the other, so no translation drops a value."""
    thai = {m.id: m.string for m in catalog("th") if m.id}
    english = {m.id: m.string for m in catalog("en") if m.id}
    assert thai.keys() == english.keys()
    for key, text in thai.items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key


def test_thai_respondent_text_keeps_one_polite_voice() -> None:
    """Thai sentences use the project's one voice (ค่ะ/คะ), never the male ครับ mixed in."""
    for message in catalog("th"):
        if message.id:
            assert "ครับ" not in message.string, message.id


def test_every_status_and_role_the_console_shows_has_its_words() -> None:
    """The console names statuses and roles by key ("console.status." + status): each exists."""
    from bot.console.roles import ROLES

    statuses = ("registered", "waitlisted", "cancelled", "attended", "no_show")
    workshop_states = ("open", "full", "cancelled", "done")
    for language in ("th", "en"):
        keys = {m.id for m in catalog(language) if m.id}
        wanted = {f"console.status.{s}" for s in statuses + workshop_states}
        wanted |= {f"console.role.{role}" for role in ROLES}
        assert wanted <= keys, wanted - keys
