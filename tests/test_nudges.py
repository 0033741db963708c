"""A gentle nudge after 24 hours of silence mid-survey: once, never at night, through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.delivery import deliver as deliver_due
from storage.models import OutboxMessage
from tests.chat import Respondent, texts


def deliver(app, clock) -> int:
    """Run one round of the delivery worker at the test clock's time."""
    return deliver_due(app.extensions["runtime"], clock.now)


def halfway(client) -> Respondent:
    """A respondent who answered two questions of the demo survey, then went quiet."""
    person = Respondent(client)
    person.onboard()
    person.tap("สำรวจ (3 นาที)")
    person.say("12")
    person.say("1/6/2555")
    return person


def test_one_nudge_after_a_day_of_silence_then_no_more(app, client, clock) -> None:
    """Nothing before 24 hours; then one nudge that re-asks the question; never a second."""
    person = halfway(client)
    clock.advance(hours=23, minutes=59)
    deliver(app, clock)
    assert person.replies() == []
    clock.advance(minutes=2)
    assert deliver(app, clock) == 2
    nudge = person.replies()
    assert "ยังค้างอยู่" in texts(nudge)
    assert "ช่วงนี้คนซื้อหรือลูกค้าเป็นอย่างไรบ้างคะ" in nudge[-1]["text"]
    assert [b["label"] for b in nudge[-1]["buttons"]] == ["มากขึ้น", "เท่าเดิม", "น้อยลง"]
    clock.advance(days=3)
    assert deliver(app, clock) == 0
    assert person.replies() == []


def test_a_nudge_due_at_night_waits_until_eight(app, client, clock) -> None:
    """Silence from 21:30 Lampang time: the nudge waits until 08:00, not 21:30 the next day."""
    clock.now = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 21:30 in Bangkok
    person = halfway(client)
    clock.now = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)  # 06:59 on the 25th
    deliver(app, clock)
    assert person.replies() == []
    clock.now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 08:00 on the 25th
    deliver(app, clock)
    assert "ยังค้างอยู่" in texts(person.replies())


def test_answering_again_moves_the_nudge_and_finishing_cancels_it(app, client, clock) -> None:
    """Each message restarts the 24 hours; a finished survey gets no nudge at all."""
    person = halfway(client)
    clock.advance(hours=20)
    person.tap("น้อยลง")
    clock.advance(hours=5)
    deliver(app, clock)
    assert person.replies() == []
    for text in ("1", "100", "เคย", "ข้าม", "รับทราบ"):
        person.say(text)
    clock.advance(days=2)
    deliver(app, clock)
    assert person.replies() == []
    with app.extensions["runtime"].db() as session:
        kinds = session.scalars(select(OutboxMessage.kind).where(OutboxMessage.status == "pending"))
        assert list(kinds) == []
