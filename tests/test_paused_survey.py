"""A look at the workshops mid-survey pauses it: the list keeps its buttons (with ทำต่อ), a typed
number picks a workshop and is never stored as the survey's answer, and only ทำต่อ resumes."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Answer
from tests.line_user import LineUser, text_of


def test_workshops_mid_survey_keep_the_survey_whole(line_app, fake_line) -> None:
    """ "อบรม" on the first question, then "1": the first workshop's details; "ทำต่อ" resumes."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("สำรวจ")
    listed = user.say("อบรม")
    assert "รอบอบรม" in text_of(listed)
    assert user.quick_replies()[-1] == "ทำต่อ", "the list's own message carries the buttons"
    assert user.quick_replies()[0].startswith("1. ")
    details = user.say("1")
    assert "ลงทะเบียน" in text_of(details)
    with line_app.extensions["runtime"].db() as session:
        assert session.scalars(select(Answer).where(Answer.question == "years")).all() == []
    again = user.say("สวัสดี")
    assert "พักแบบสอบถามไว้อยู่" in text_of(again) and user.quick_replies() == ["ทำต่อ"]
    resumed = user.tap("ทำต่อ")
    assert "กี่ปี" in text_of(resumed)
    user.say("12")
    with line_app.extensions["runtime"].db() as session:
        (years,) = session.scalars(select(Answer).where(Answer.question == "years")).all()
        assert years.value == 12
