"""Turn the engine's message keys into text in the respondent's language (Babel gettext)."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel.lists import format_list
from babel.support import Translations

from bot.thai_dates import format_day_month, format_thai_date, format_thai_datetime
from survey_flows.form import LANGUAGES
from survey_flows.session import Alternatives, DayMonth, Msg, Part

LOCALES = Path(__file__).resolve().parent.parent / "locales"


@cache
def translations(language: str) -> Translations:
    """Load the compiled catalog for `language` once per process."""
    return Translations.load(str(LOCALES), [language if language in LANGUAGES else LANGUAGES[0]])


def translate(key: str, language: str, **params: object) -> str:
    """Return the catalog text for `key` in `language`, with its {placeholders} filled."""
    text = translations(language).gettext(key)
    return text.format(**params) if params else text


def _formatted(value: object, language: str) -> object:
    """Dates as Thai readers expect them (Buddhist Era), names as "A, B or C"; the rest as is."""
    if isinstance(value, datetime):
        return format_thai_datetime(value, language)
    if isinstance(value, date):
        return format_thai_date(value, language)
    if isinstance(value, DayMonth):
        return format_day_month(value.day, language)
    if isinstance(value, Alternatives):
        return format_list(value.names, style="or", locale=language)
    return value


def render_part(part: Part, language: str) -> str:
    """Return a piece of engine text as words in `language`."""
    if isinstance(part, Msg):
        params = {name: _formatted(value, language) for name, value in part.params.items()}
        return translate(part.key, language, **params)
    return part
