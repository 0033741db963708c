"""Buttons by reference: a short token on the platform, the button's data kept on the server."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.buttons import REFERENCE, is_reference, reference
from storage.models import Answer, OutboxMessage
from tests.line_user import LineUser, button_actions, text_of


def test_a_tap_on_someone_elses_button_is_stale_and_stores_nothing(line_app, fake_line) -> None:
    """A forged or shared reference names a row sent to another person: it answers nobody's."""
    mine, theirs = LineUser(line_app, fake_line), LineUser(line_app, fake_line, "U" + "b" * 32)
    mine.send(mine.event("follow"))
    theirs.onboard()  # the consent and profile buttons went to them only
    mine.tap("ยินยอม")
    group_question = button_actions(fake_line.messages_to(theirs.user_id)[-1])
    borrowed = next(a["data"] for a in group_question if a["label"] == "สำรวจ (3 นาที)")
    replies = mine.send(mine.event("postback", postback={"data": borrowed}))
    assert "ปุ่มนั้นใช้ไม่ได้แล้ว" in text_of(replies)  # and their own question again
    assert "คุณทำงานด้านไหนคะ" in text_of(replies)
    with line_app.extensions["runtime"].db() as session:
        assert session.scalar(select(func.count()).select_from(Answer)) == 2  # theirs only


def test_a_button_sent_before_references_still_answers(line_app, fake_line) -> None:
    """Buttons already in people's chats when this shipped carry their own JSON data."""
    user = LineUser(line_app, fake_line)
    user.send(user.event("follow"))
    with line_app.extensions["runtime"].db() as session:
        sent = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        legacy = next(b["data"] for b in sent.payload["buttons"] if b["label"] == "ยินยอม")
    assert not is_reference(legacy)
    replies = user.send(user.event("postback", postback={"data": legacy}))
    assert "คุณทำงานด้านไหนคะ" in text_of(replies)


@given(st.integers(0, 10**19 - 1), st.integers(0, 9999))
def test_every_reference_is_short_and_recognised(row_id: int, index: int) -> None:
    """Any row and button index make a reference under Telegram's 64 bytes, read back exactly."""
    made = reference(row_id, index)
    assert is_reference(made) and len(made.encode()) <= 64
    found = REFERENCE.fullmatch(made)
    assert (int(found.group(1)), int(found.group(2))) == (row_id, index)


@given(st.text())
def test_platform_data_is_a_reference_only_in_the_one_exact_form(data: str) -> None:
    """ "b:07.1", "b:1.2 " or an answer's JSON are not references: one form per button."""
    if is_reference(data):
        row, index = data[2:].split(".")
        assert reference(int(row), int(index)) == data
