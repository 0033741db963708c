"""Handled event ids are kept long enough to recognise a redelivery, then forgotten."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.service import Inbound
from bot.worker import EVENT_MEMORY, forget_old_events
from storage.models import ProcessedEvent
from storage.respondents import claim_group_told
from survey_flows.session import HelloInput, TextInput


def test_old_event_ids_are_forgotten_and_recent_ones_still_stop_a_redelivery(app, clock) -> None:
    """A month on, an event id is dropped; a redelivery of a recent event still changes nothing."""
    runtime = app.extensions["runtime"]
    assert runtime.handle(Inbound("web", "u1", HelloInput(), event_id="old")) is not None
    clock.advance(days=EVENT_MEMORY.days - 1)
    recent = Inbound("web", "u1", TextInput("ช่วยเหลือ"), event_id="recent")
    assert runtime.handle(recent) is not None
    clock.advance(days=2)
    assert forget_old_events(runtime, clock.now) == 1
    assert runtime.handle(recent) is None, "a redelivery of a recent event is still recognised"
    with runtime.db() as session:
        kept = session.scalars(select(ProcessedEvent.event_id)).all()
    assert kept == ["recent"]


def test_a_group_already_told_is_never_told_again(app, clock) -> None:
    """The groups told that the survey works 1:1 are remembered for good, not forgotten."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        assert claim_group_told(session, "line", "C" + "1" * 32, clock.now)
    clock.advance(days=EVENT_MEMORY.days * 3)
    assert forget_old_events(runtime, clock.now) == 0
    with runtime.db.begin() as session:
        assert not claim_group_told(session, "line", "C" + "1" * 32, clock.now)
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
