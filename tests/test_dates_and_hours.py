"""Buddhist-Era dates and quiet hours, as a Thai respondent sees them."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot import quiet_hours, thai_dates
from bot.quiet_hours import next_allowed
from bot.thai_dates import format_thai_date, format_thai_datetime

BANGKOK = ZoneInfo("Asia/Bangkok")


@pytest.mark.parametrize("module", [thai_dates, quiet_hours])
def test_docstring_examples_hold(module) -> None:
    """The examples in the docstrings are true."""
    assert doctest.testmod(module).failed == 0


def test_dates_are_shown_in_the_buddhist_era() -> None:
    """พ.ศ. = ค.ศ. + 543, with the Thai weekday and month."""
    assert format_thai_date(date(2026, 12, 5)) == "เสาร์ 5 ธ.ค. 2569"
    assert format_thai_date(date(2024, 2, 29)) == "พฤหัสบดี 29 ก.พ. 2567"
    assert format_thai_datetime(datetime(2026, 12, 5, 9, 0)) == "เสาร์ 5 ธ.ค. 2569 เวลา 09:00 น."
    assert format_thai_date(date(2026, 12, 5), "en") == "Sat 5 Dec 2026"


@pytest.mark.parametrize(
    ("local", "expected_local"),
    [
        ((2026, 11, 23, 20, 59), (2026, 11, 23, 20, 59)),
        ((2026, 11, 23, 21, 0), (2026, 11, 24, 8, 0)),
        ((2026, 11, 23, 23, 59), (2026, 11, 24, 8, 0)),
        ((2026, 11, 24, 0, 0), (2026, 11, 24, 8, 0)),
        ((2026, 11, 24, 7, 59), (2026, 11, 24, 8, 0)),
        ((2026, 11, 24, 8, 0), (2026, 11, 24, 8, 0)),
    ],
)
def test_quiet_hours_hold_messages_until_eight(local, expected_local) -> None:
    """From 21:00 to 08:00 Lampang time a message waits; the answer keeps the caller's zone."""
    moment = datetime(*local, tzinfo=BANGKOK).astimezone(UTC)
    allowed = next_allowed(moment, BANGKOK)
    assert allowed.tzinfo == UTC
    assert allowed == datetime(*expected_local, tzinfo=BANGKOK)
