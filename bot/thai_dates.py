"""Dates as Thai readers expect them: Buddhist Era years, Thai month names, Asia/Bangkok time."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_time

#: พ.ศ. = ค.ศ. + 543. Babel only knows the Gregorian calendar, so we add the offset ourselves.
BUDDHIST_ERA_OFFSET = 543


def format_thai_date(day: date, language: str = "th") -> str:
    """Format a date with its weekday: "เสาร์ 5 ธ.ค. 2569" in Thai, "Sat 5 Dec 2026" in English.

    >>> format_thai_date(date(2026, 12, 5))
    'เสาร์ 5 ธ.ค. 2569'
    """
    if language != "th":
        return format_date(day, "EEE d MMM y", locale="en")
    weekday = format_date(day, "EEEE", locale="th").removeprefix("วัน")
    day_and_month = format_date(day, "d MMM", locale="th")
    return f"{weekday} {day_and_month} {day.year + BUDDHIST_ERA_OFFSET}"


def format_day_month(day: date, language: str = "th") -> str:
    """A date said short, for a button: "5 ธ.ค." in Thai, "5 Dec" in English."""
    return format_date(day, "d MMM", locale="th" if language == "th" else "en")


def format_thai_datetime(moment: datetime, language: str = "th") -> str:
    """Format a local date and time, e.g. "เสาร์ 5 ธ.ค. 2569 เวลา 09:00 น."."""
    clock = format_time(moment, "HH:mm", locale="en")
    if language != "th":
        return f"{format_thai_date(moment.date(), language)}, {clock}"
    return f"{format_thai_date(moment.date(), language)} เวลา {clock} น."
