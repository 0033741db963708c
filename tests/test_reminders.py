"""Workshop reminders: at the workshop's times, only while still wanted, through the outbox."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import create_app
from bot.delivery import deliver
from bot.runtime import Runtime
from bot.thai_dates import format_thai_datetime
from storage.models import Course, OutboxMessage, Registration, Workshop
from storage.reminders import (
    UNREACHABLE,
    cancel_reminders,
    reminder_times,
    reschedule_reminders,
    schedule_reminders,
)
from storage.respondents import get_or_create_respondent
from storage.workshops import DEFAULT_REMINDERS
from tests.line_user import LineUser

TZ = ZoneInfo("Asia/Bangkok")

#: The app wired to the fake LINE API (shared with the webhook tests).


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Lampang in December 2026, in UTC as the database gives it back."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def render(workshop: Workshop, _due_at: datetime) -> dict[str, Any]:
    """A reminder's words, as a caller would take them from its catalogs."""
    when = format_thai_datetime(workshop.starts_at.astimezone(TZ))
    return {
        "text": f"อย่าลืมนะคะ: {workshop.course.title_th} {when} ที่ {workshop.venue}",
        "buttons": [],
    }


@pytest.fixture
def runtime(database_url, clock) -> Iterator[Runtime]:
    """The app's runtime on a fresh database, on the test clock, with no sending after commit."""
    app = create_app({"DATABASE_URL": database_url, "CLOCK": clock, "DELIVER_AFTER_COMMIT": False})
    yield app.extensions["runtime"]
    app.extensions["runtime"].close()


def add_workshop(
    session: Session,
    starts_at: datetime,
    reminders: Sequence[dict[str, Any]] = DEFAULT_REMINDERS,
) -> Workshop:
    """A workshop of the test course (created on first use) with these reminder times."""
    course = session.scalars(select(Course).where(Course.code == "SWEETS")).first() or Course(
        code="SWEETS",
        title_th="ขนมพื้นบ้านลำปาง",
        title_en="Lampang sweets",
        kind="upskill",
        groups=[],
        focus=[],
    )
    workshop = Workshop(
        course=course,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=3),
        venue="ศาลาประชาคมบ้านหลุก",
        capacity=30,
        registration_deadline=starts_at,
        status="open",
        reminders=[dict(reminder) for reminder in reminders],
    )
    session.add(workshop)
    session.flush()
    return workshop


def take_seat(
    session: Session,
    workshop: Workshop,
    user: str,
    now: datetime,
    channel: str = "web",
    status: str = "registered",
) -> Registration:
    """Register a respondent (created on first use) and schedule their reminders, as signing up does."""
    respondent = get_or_create_respondent(session, channel, user, now)
    session.flush()
    registration = Registration(
        workshop_id=workshop.id, respondent_id=respondent.id, status=status, created_at=now
    )
    session.add(registration)
    session.flush()
    schedule_reminders(session, registration, respondent, now, TZ, render)
    return registration


def reminders(runtime: Runtime) -> list[OutboxMessage]:
    """Every reminder as scheduled, in the order written.

    The simulator shows a sent reminder as a fresh copy, which has no registration: left out.
    """
    with runtime.db() as session:
        query = select(OutboxMessage).where(
            OutboxMessage.kind == "reminder", OutboxMessage.registration_id.is_not(None)
        )
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def due_times(runtime: Runtime) -> list[datetime]:
    """When each reminder not yet taken falls due, in the order written."""
    return [row.due_at for row in reminders(runtime) if row.status == "pending"]


def outcomes(runtime: Runtime) -> list[tuple[str, str | None]]:
    """What became of each reminder, in the order written: (status, last_error)."""
    return [(row.status, row.last_error) for row in reminders(runtime)]


def test_by_default_the_day_before_at_nine_and_two_hours_before(runtime, clock) -> None:
    """A workshop on Saturday at 13:00: reminders on Friday at 09:00 and Saturday at 11:00."""
    with runtime.db.begin() as session:
        take_seat(session, add_workshop(session, at(5, 13)), "somchai", clock.now)
    assert due_times(runtime) == [at(4, 9), at(5, 11)]
    for moment, sent in [(at(4, 8, 59), 0), (at(4, 9), 1), (at(5, 10, 59), 0), (at(5, 11), 1)]:
        clock.now = moment
        assert deliver(runtime, clock.now) == sent
    assert outcomes(runtime) == [("sent", None), ("sent", None)]


def test_a_workshop_chooses_its_own_times_and_none_fall_at_or_after_the_start() -> None:
    """Days before at a time, days before at the start's time, hours before; never from the start on."""
    workshop = Workshop(
        starts_at=at(5, 13),
        reminders=[
            {"days_before": 3, "at": "18:30"},
            {"hours_before": 1},
            {"days_before": 1},
            {"hours_before": 0},
            {"days_before": 0, "at": "14:00"},
            {"hours_before": 1},
        ],
    )
    assert reminder_times(workshop, TZ) == [at(2, 18, 30), at(4, 13), at(5, 12)]
    with pytest.raises(ValueError, match="days_before or hours_before"):
        reminder_times(Workshop(starts_at=at(5, 13), reminders=[{"minutes": 5}]), TZ)


def test_registering_three_hours_before_gets_only_the_two_hour_reminder(runtime, clock) -> None:
    """The day-before reminder is already past: it is not sent late, it is not written at all."""
    clock.now = at(5, 10)
    with runtime.db.begin() as session:
        take_seat(session, add_workshop(session, at(5, 13)), "somchai", clock.now)
    assert due_times(runtime) == [at(5, 11)]


def test_no_reminder_for_a_cancelled_seat_a_waitlist_place_or_a_cancelled_workshop(
    runtime, clock
) -> None:
    """Cancelling deletes a seat's reminders; any left behind are dropped with the reason."""
    with runtime.db.begin() as session:
        workshop = add_workshop(session, at(5, 13))
        cancelled = take_seat(session, workshop, "cancelled", clock.now)
        forgotten = take_seat(session, workshop, "forgotten", clock.now)
        waiting = take_seat(session, workshop, "waiting", clock.now, status="waitlisted")
        called_off = take_seat(session, add_workshop(session, at(5, 13)), "called-off", clock.now)
    with runtime.db.begin() as session:
        session.get(Registration, cancelled.id).status = "cancelled"
        assert cancel_reminders(session, cancelled.id) == 2
        # a cancellation that forgot the reminders: still_wanted catches them at sending time
        session.get(Registration, forgotten.id).status = "cancelled"
        session.get(Workshop, called_off.workshop_id).status = "cancelled"
        assert session.get(Registration, waiting.id).status == "waitlisted"
    clock.now = at(4, 9)
    assert deliver(runtime, clock.now) == 0
    assert outcomes(runtime) == [
        ("dropped", "registration cancelled"),  # forgotten's day-before reminder
        ("pending", None),
        ("dropped", "workshop cancelled"),  # called-off's
        ("pending", None),
    ]


def test_a_late_reminder_goes_until_the_start_and_is_dropped_from_the_start_on(
    runtime, clock
) -> None:
    """At 12:00, the 10:00 reminder of a 13:00 workshop still goes; that of a 12:00 one does not."""
    with runtime.db.begin() as session:
        take_seat(session, add_workshop(session, at(5, 13), [{"hours_before": 2}]), "a", clock.now)
        take_seat(session, add_workshop(session, at(5, 12), [{"hours_before": 2}]), "b", clock.now)
    clock.now = at(5, 12)
    assert deliver(runtime, clock.now) == 1
    assert outcomes(runtime) == [
        ("sent", None),
        ("dropped", "stale: the workshop started at 2026-12-05T05:00:00+00:00"),
    ]


def test_after_downtime_the_useful_reminders_go_and_the_stale_are_dropped(runtime, clock) -> None:
    """No worker from Thursday 08:00 to Saturday 12:00: one round sorts out what was missed."""
    with runtime.db.begin() as session:
        for starts_at in (at(4, 10), at(5, 13), at(6, 13)):  # Friday, Saturday, Sunday
            take_seat(session, add_workshop(session, starts_at), "somchai", clock.now)
    clock.now = at(5, 12)
    assert deliver(runtime, clock.now) == 3
    stale = "stale: the workshop started at 2026-12-04T03:00:00+00:00"
    assert outcomes(runtime) == [
        ("dropped", stale),  # Friday's workshop: both reminders missed, both pointless now
        ("dropped", stale),
        ("sent", None),  # Saturday's day-before reminder: a day late, but before the start
        ("sent", None),  # Saturday's two-hour reminder, an hour late
        ("sent", None),  # Sunday's day-before reminder, three hours late
        ("pending", None),  # Sunday's two-hour reminder, still ahead
    ]
    assert due_times(runtime) == [at(6, 11)]


def test_moving_a_workshop_moves_its_reminders_and_sends_none_twice(runtime, clock) -> None:
    """Moved a week on: reminders at the new times only. Moved by two hours after the day-before
    reminder went: only the two-hour one is written again."""
    with runtime.db.begin() as session:
        workshop = add_workshop(session, at(5, 13))
        for user in ("a", "b"):
            take_seat(session, workshop, user, clock.now)
        take_seat(session, workshop, "waiting", clock.now, status="waitlisted")
        workshop.starts_at = at(12, 9)
        assert (
            reschedule_reminders(session, workshop.id, clock.now, TZ, lambda _language: render) == 4
        )
    assert sorted(due_times(runtime)) == [at(11, 9)] * 2 + [at(12, 7)] * 2
    with runtime.db() as session:
        texts = session.scalars(select(OutboxMessage.payload["text"].as_string()))
        assert all("เสาร์ 12 ธ.ค. 2569 เวลา 09:00 น." in text for text in texts)
    clock.now = at(5, 11)
    assert deliver(runtime, clock.now) == 0
    clock.now = at(11, 9)
    assert deliver(runtime, clock.now) == 2
    with runtime.db.begin() as session:
        session.get(Workshop, workshop.id).starts_at = at(12, 11)
        assert (
            reschedule_reminders(session, workshop.id, clock.now, TZ, lambda _language: render) == 2
        )
    assert [status for status, _ in outcomes(runtime)] == ["sent", "sent", "pending", "pending"]
    assert due_times(runtime) == [at(12, 9)] * 2


def test_an_unfollowed_respondent_gets_no_reminder_and_a_refollowed_one_does(
    line_app, fake_line, clock
) -> None:
    """Blocked when the day-before reminder falls due: dropped. Unblocked by the day: sent."""
    runtime = line_app.extensions["runtime"]
    user = LineUser(line_app, fake_line)
    user.send(user.event("follow"))
    with runtime.db.begin() as session:
        take_seat(session, add_workshop(session, at(5, 13)), user.user_id, clock.now, "line")
    user.send(user.event("unfollow"))
    pushes = len(fake_line.pushes())
    clock.now = at(4, 9)
    assert deliver(runtime, clock.now) == 0
    assert len(fake_line.pushes()) == pushes
    assert outcomes(runtime) == [("dropped", UNREACHABLE), ("pending", None)]
    user.send(user.event("follow"))
    clock.now = at(5, 11)
    assert deliver(runtime, clock.now) == 1
    assert "ขนมพื้นบ้านลำปาง" in fake_line.messages_to(user.user_id)[-1]["text"]


def test_a_reminder_reaches_line_as_a_push_with_its_retry_key(line_app, fake_line, clock) -> None:
    """No reply token so long after the last message: a push, with the row's X-Line-Retry-Key."""
    runtime = line_app.extensions["runtime"]
    user = LineUser(line_app, fake_line)
    user.send(user.event("follow"))
    with runtime.db.begin() as session:
        take_seat(session, add_workshop(session, at(5, 13)), user.user_id, clock.now, "line")
    before = len(fake_line.pushes())
    clock.now = at(4, 9)
    assert deliver(runtime, clock.now) == 1
    [push] = fake_line.pushes()[before:]
    row = reminders(runtime)[0]
    assert (push.status, push.headers["x-line-retry-key"]) == (200, row.retry_key)
    assert push.json["to"] == user.user_id
    assert push.json["messages"] == [{"type": "text", "text": row.payload["text"]}]
    assert "เสาร์ 5 ธ.ค. 2569 เวลา 13:00 น." in row.payload["text"]
