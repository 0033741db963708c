"""Workshop sign-up: seats and waitlists (also under concurrency), check-in, coordinators' changes,
the calendar file, and the demo workshops."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from flask import Flask
from icalendar import Calendar
from sqlalchemy import func, select

from bot.calendar import calendar_url
from bot.runtime import Runtime
from storage.models import Course, Registration, RegistrationChange, Workshop
from storage.respondents import get_or_create_respondent
from storage.workshops import (
    Outcome,
    attendees_needing_feedback,
    cancel_registration,
    cancel_workshop,
    check_in,
    mark_attendance,
    my_registrations,
    register,
    reschedule_workshop,
    upcoming_workshops,
)
from tests.conftest import Clock

T = TypeVar("T")


def runtime_of(app: Flask) -> Runtime:
    """The app's runtime, whose `db` opens one transaction per call, as requests do."""
    return app.extensions["runtime"]


def add_workshop(
    app: Flask,
    clock: Clock,
    capacity: int,
    starts_in: timedelta = timedelta(days=7),
    deadline_before: timedelta = timedelta(days=1),
    checkin_code: str = "ม้า LP7",
    course_code: str = "carriage-service",
) -> int:
    """A three-hour workshop of a demo course; returns its id."""
    with runtime_of(app).db.begin() as session:
        course = session.scalars(select(Course).where(Course.code == course_code)).one()
        starts_at = clock.now + starts_in
        workshop = Workshop(
            course_id=course.id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3),
            venue="หอประชุม เทศบาลนครลำปาง",
            map_url="https://www.google.com/maps/search/?api=1&query=test",
            capacity=capacity,
            registration_deadline=starts_at - deadline_before,
            checkin_code=checkin_code,
            reminders=[],
        )
        session.add(workshop)
        session.flush()
        return workshop.id


def add_people(app: Flask, clock: Clock, count: int) -> list[int]:
    """Respondents of the web simulator; returns their ids."""
    with runtime_of(app).db.begin() as session:
        return [
            get_or_create_respondent(session, "web", f"person-{i}", clock.now).id
            for i in range(count)
        ]


def in_transaction(app: Flask, action: Callable[..., T], *args, **kwargs) -> T:
    """Run one storage function in a transaction of its own, as a request would."""
    with runtime_of(app).db.begin() as session:
        return action(session, *args, **kwargs)


def history(app: Flask, registration_id: int) -> list[tuple[str, str]]:
    """(status, changed_by) of every change of a registration, oldest first."""
    with runtime_of(app).read_db() as session:
        rows = session.execute(
            select(RegistrationChange.status, RegistrationChange.changed_by)
            .where(RegistrationChange.registration_id == registration_id)
            .order_by(RegistrationChange.id)
        )
        return [(status, by) for status, by in rows]


def statuses(app: Flask, workshop_id: int) -> dict[str, int]:
    """How many registrations of the workshop are in each status."""
    with runtime_of(app).read_db() as session:
        rows = session.execute(
            select(Registration.status, func.count())
            .where(Registration.workshop_id == workshop_id)
            .group_by(Registration.status)
        )
        return {status: count for status, count in rows}


def workshop_status(app: Flask, workshop_id: int) -> str:
    """The workshop's own status column."""
    with runtime_of(app).read_db() as session:
        return session.get_one(Workshop, workshop_id).status


# --- seats and the waitlist ----------------------------------------------------------------------


def test_seats_fill_then_the_waitlist_grows_in_order(app, clock) -> None:
    """Two seats: two registered, the next two waitlisted at 1 and 2; asking again is refused."""
    workshop_id = add_workshop(app, clock, capacity=2)
    people = add_people(app, clock, 4)
    results = []
    for person in people:
        results.append(in_transaction(app, register, workshop_id, person, clock.now))
        clock.advance(minutes=1)
    assert [r.outcome for r in results] == [
        Outcome.REGISTERED,
        Outcome.REGISTERED,
        Outcome.WAITLISTED,
        Outcome.WAITLISTED,
    ]
    assert [r.position for r in results] == [None, None, 1, 2]
    assert [r.workshop.seats_left for r in results if r.workshop] == [1, 0, 0, 0]
    assert results[1].workshop and results[1].workshop.status == "full"
    assert workshop_status(app, workshop_id) == "full"

    again = in_transaction(app, register, workshop_id, people[0], clock.now)
    assert (again.outcome, again.registration_id) == (Outcome.ALREADY, results[0].registration_id)
    waiting_again = in_transaction(app, register, workshop_id, people[3], clock.now)
    assert (waiting_again.outcome, waiting_again.position) == (Outcome.ALREADY, 2)
    assert statuses(app, workshop_id) == {"registered": 2, "waitlisted": 2}


def test_refused_after_the_deadline_once_started_when_cancelled_or_unknown(app, clock) -> None:
    """Each refusal has its own outcome, and none of them creates a registration."""
    workshop_id = add_workshop(app, clock, capacity=5, starts_in=timedelta(days=2))
    early, late = add_people(app, clock, 2)
    assert in_transaction(app, register, workshop_id, early, clock.now).outcome == "registered"

    clock.advance(days=1, seconds=1)  # a second past the deadline
    result = in_transaction(app, register, workshop_id, late, clock.now)
    assert result.outcome is Outcome.DEADLINE_PASSED
    assert result.registration_id is None and result.workshop is not None
    clock.advance(days=1)
    assert in_transaction(app, register, workshop_id, late, clock.now).outcome is Outcome.STARTED
    assert in_transaction(app, register, 999_999, late, clock.now).outcome is Outcome.NOT_FOUND

    other_id = add_workshop(app, clock, capacity=5)
    in_transaction(app, cancel_workshop, other_id, clock.now, "coordinator")
    assert in_transaction(app, register, other_id, late, clock.now).outcome is Outcome.CANCELLED
    assert statuses(app, workshop_id) == {"registered": 1}
    assert statuses(app, other_id) == {}


def test_a_freed_seat_goes_to_the_first_waiting_at_once(app, clock) -> None:
    """Cancelling a seat promotes the earliest waitlisted; every change is in the history."""
    workshop_id = add_workshop(app, clock, capacity=1)
    first, second, third = add_people(app, clock, 3)
    seat = in_transaction(app, register, workshop_id, first, clock.now)
    clock.advance(minutes=5)
    waiting = [in_transaction(app, register, workshop_id, p, clock.now) for p in (second, third)]

    assert not in_transaction(
        app, cancel_registration, seat.registration_id, second, clock.now
    ).cancelled  # not theirs to cancel
    result = in_transaction(app, cancel_registration, seat.registration_id, first, clock.now)
    assert result.cancelled
    assert result.promoted_registration_id == waiting[0].registration_id
    assert result.promoted_respondent_id == second
    assert result.workshop and result.workshop.status == "full"
    assert history(app, seat.registration_id) == [
        ("registered", "respondent"),
        ("cancelled", "respondent"),
    ]
    assert history(app, waiting[0].registration_id) == [
        ("waitlisted", "respondent"),
        ("registered", "waitlist"),
    ]
    with runtime_of(app).read_db() as session:
        (mine,) = my_registrations(session, third, clock.now)
    assert (mine.status, mine.position) == ("waitlisted", 1)

    # Cancelling twice, or a waitlist place, frees no seat for anyone.
    again = in_transaction(app, cancel_registration, seat.registration_id, first, clock.now)
    assert not again.cancelled
    gone = in_transaction(app, cancel_registration, waiting[1].registration_id, third, clock.now)
    assert gone.cancelled and gone.promoted_registration_id is None
    assert statuses(app, workshop_id) == {"registered": 1, "cancelled": 2}

    # The last seat freed with nobody waiting opens the workshop again.
    last = in_transaction(app, cancel_registration, waiting[0].registration_id, second, clock.now)
    assert last.promoted_registration_id is None
    assert last.workshop and (last.workshop.status, last.workshop.seats_left) == ("open", 1)


def test_who_cancelled_may_register_again_on_the_same_row(app, clock) -> None:
    """Registering after cancelling reuses the registration, and joins the back of the line."""
    workshop_id = add_workshop(app, clock, capacity=1)
    first, second, third = add_people(app, clock, 3)
    seat = in_transaction(app, register, workshop_id, first, clock.now)
    in_transaction(app, cancel_registration, seat.registration_id, first, clock.now)
    back = in_transaction(app, register, workshop_id, first, clock.now)
    assert (back.outcome, back.registration_id) == (Outcome.REGISTERED, seat.registration_id)
    assert [s for s, _ in history(app, seat.registration_id)] == [
        "registered",
        "cancelled",
        "registered",
    ]

    clock.advance(minutes=1)
    waiting = in_transaction(app, register, workshop_id, second, clock.now)
    in_transaction(app, cancel_registration, waiting.registration_id, second, clock.now)
    clock.advance(minutes=1)
    in_transaction(app, register, workshop_id, third, clock.now)
    clock.advance(minutes=1)
    rejoined = in_transaction(app, register, workshop_id, second, clock.now)
    assert (rejoined.registration_id, rejoined.position) == (waiting.registration_id, 2)


def test_upcoming_workshops_put_the_group_first_and_filter_by_course(app, clock) -> None:
    """The demo workshops: vendors' courses first for kadkongta, each part by start time."""
    with runtime_of(app).read_db() as session:
        for_vendors = upcoming_workshops(session, clock.now, group="kadkongta")
        carriage = upcoming_workshops(session, clock.now, course_code="carriage-service")
    theirs = [w for w in for_vendors if "kadkongta" in w.groups]
    assert [w.course_code for w in theirs] == [
        "online-marketing",
        "secret-menu",
        "local-food-value",
    ]
    assert for_vendors[: len(theirs)] == theirs
    rest = for_vendors[len(theirs) :]
    assert [w.starts_at for w in rest] == sorted(w.starts_at for w in rest)
    assert [w.course_code for w in carriage] == ["carriage-service", "carriage-service"]
    assert carriage[0].title_th.startswith("การพัฒนารูปแบบบริการ")

    clock.advance(days=6)  # the first carriage workshop has started
    with runtime_of(app).read_db() as session:
        assert len(upcoming_workshops(session, clock.now, course_code="carriage-service")) == 1


def test_my_registrations_lists_seats_and_waitlist_places_until_they_end(app, clock) -> None:
    """Soonest first, with waitlist positions; a workshop over is no longer listed."""
    soon = add_workshop(app, clock, capacity=1, starts_in=timedelta(days=2))
    later = add_workshop(app, clock, capacity=5, starts_in=timedelta(days=9))
    other, me = add_people(app, clock, 2)
    in_transaction(app, register, soon, other, clock.now)
    in_transaction(app, register, later, me, clock.now)
    in_transaction(app, register, soon, me, clock.now)
    with runtime_of(app).read_db() as session:
        mine = my_registrations(session, me, clock.now)
    assert [(m.workshop.id, m.status, m.position) for m in mine] == [
        (soon, "waitlisted", 1),
        (later, "registered", None),
    ]
    assert all(len(m.calendar_token) == 36 for m in mine)
    clock.advance(days=3)
    with runtime_of(app).read_db() as session:
        assert [m.workshop.id for m in my_registrations(session, me, clock.now)] == [later]


# --- concurrency ---------------------------------------------------------------------------------


def all_at_once(app: Flask, actions: list[Callable]) -> list:
    """Run each action(session) in its own transaction and thread, released together."""
    barrier = threading.Barrier(len(actions), timeout=30)

    def run(action: Callable):
        with runtime_of(app).db.begin() as session:
            # Before the first statement: on SQLite that statement takes the write lock.
            barrier.wait()
            return action(session)

    with ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(run, actions))


def test_ten_people_take_the_last_seat_at_the_same_moment(app, clock) -> None:
    """One seat, ten at once: exactly one gets it, nine wait at distinct places 1..9."""
    workshop_id = add_workshop(app, clock, capacity=1)
    people = add_people(app, clock, 10)
    results = all_at_once(
        app, [lambda s, p=p: register(s, workshop_id, p, clock.now) for p in people]
    )
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.REGISTERED) == 1
    assert outcomes.count(Outcome.WAITLISTED) == 9
    assert sorted(r.position for r in results if r.position) == list(range(1, 10))
    assert statuses(app, workshop_id) == {"registered": 1, "waitlisted": 9}
    assert workshop_status(app, workshop_id) == "full"


def test_cancels_and_registrations_at_once_never_oversubscribe(app, clock) -> None:
    """Three seats held and three waiting; five leave and five join at once: still three seats,
    every freed seat taken by someone waiting, and the waitlist numbered without gaps."""
    workshop_id = add_workshop(app, clock, capacity=3)
    people = add_people(app, clock, 11)
    holders, newcomers = people[:6], people[6:]
    registrations = [in_transaction(app, register, workshop_id, p, clock.now) for p in holders]
    leaving = registrations[:5]  # all three seats and two places in the waitlist
    assert [r.outcome for r in leaving] == ["registered"] * 3 + ["waitlisted"] * 2
    clock.advance(minutes=1)

    actions: list[Callable] = [
        lambda s, r=r, p=p: cancel_registration(s, r.registration_id, p, clock.now)
        for r, p in zip(leaving, holders, strict=False)
    ]
    actions += [lambda s, p=p: register(s, workshop_id, p, clock.now) for p in newcomers]
    results = all_at_once(app, actions)

    assert all(r.cancelled for r in results[:5])
    assert statuses(app, workshop_id) == {"registered": 3, "waitlisted": 3, "cancelled": 5}
    with runtime_of(app).read_db() as session:
        waiting = [
            m.position
            for p in people
            for m in my_registrations(session, p, clock.now)
            if m.status == "waitlisted"
        ]
    assert sorted(waiting) == [1, 2, 3]
    assert workshop_status(app, workshop_id) == "full"


# --- on the day ----------------------------------------------------------------------------------


def test_check_in_with_the_code_as_typed_and_only_on_the_day(app, clock) -> None:
    """Thai digits, decomposed vowels, spaces and case do not matter; the day does."""
    tz = runtime_of(app).tz
    # Tomorrow 09:00 in Lampang (the clock reads 10:00 today).
    workshop_id = add_workshop(
        app,
        clock,
        capacity=5,
        starts_in=timedelta(hours=23),
        deadline_before=timedelta(hours=1),
        checkin_code="ลำปาง LP7",
    )
    me, late_comer = add_people(app, clock, 2)
    mine = in_transaction(app, register, workshop_id, me, clock.now)
    in_transaction(app, register, workshop_id, late_comer, clock.now)
    typed = "  ล\u0e4d\u0e32ปาง lp ๗ "  # nikhahit + sara aa, lower case, Thai seven
    assert in_transaction(app, check_in, me, typed, clock.now, tz) is None  # the day before

    clock.advance(hours=22)  # 08:00 on the day
    assert in_transaction(app, check_in, me, "ลำปาง LP8", clock.now, tz) is None
    checked = in_transaction(app, check_in, me, typed, clock.now, tz)
    assert checked is not None
    assert (checked.id, checked.status) == (mine.registration_id, "attended")
    again = in_transaction(app, check_in, me, "ลำปางLP7", clock.now, tz)
    assert again is not None and again.status == "attended"
    assert history(app, mine.registration_id) == [
        ("registered", "respondent"),
        ("attended", "respondent"),
    ]

    clock.advance(days=1)  # the day after
    assert in_transaction(app, check_in, late_comer, "ลำปาง LP7", clock.now, tz) is None


def test_coordinators_mark_attendance(app, clock) -> None:
    """Attended or no-show, with the coordinator's name in the history."""
    workshop_id = add_workshop(app, clock, capacity=5)
    came, absent = add_people(app, clock, 2)
    ids = [
        in_transaction(app, register, workshop_id, p, clock.now).registration_id
        for p in (came, absent)
    ]
    clock.advance(days=7, hours=3)
    in_transaction(app, mark_attendance, ids[0], True, "coordinator:nok", clock.now)
    in_transaction(app, mark_attendance, ids[1], False, "coordinator:nok", clock.now)
    assert history(app, ids[0])[-1] == ("attended", "coordinator:nok")
    assert history(app, ids[1])[-1] == ("no_show", "coordinator:nok")


def test_feedback_goes_to_attendees_an_hour_after_the_end_once(app, clock) -> None:
    """Only those who came, only from an hour after the end, only until it is marked sent."""
    workshop_id = add_workshop(app, clock, capacity=5)
    called_off = add_workshop(app, clock, capacity=5)
    came, absent, unmarked = add_people(app, clock, 3)
    ids = {
        p: in_transaction(app, register, workshop_id, p, clock.now).registration_id
        for p in (came, absent, unmarked)
    }
    off_id = in_transaction(app, register, called_off, came, clock.now).registration_id
    clock.advance(days=7, hours=2)
    in_transaction(app, mark_attendance, ids[came], True, "coordinator", clock.now)
    in_transaction(app, mark_attendance, ids[absent], False, "coordinator", clock.now)
    in_transaction(app, mark_attendance, off_id, True, "coordinator", clock.now)
    in_transaction(app, cancel_workshop, called_off, clock.now, "coordinator")

    clock.advance(hours=1, minutes=59)  # 59 minutes after the end
    assert in_transaction(app, attendees_needing_feedback, clock.now) == []
    clock.advance(minutes=1)
    assert in_transaction(app, attendees_needing_feedback, clock.now) == [(workshop_id, came)]
    with runtime_of(app).db.begin() as session:
        session.get_one(Workshop, workshop_id).feedback_sent_at = clock.now
    assert in_transaction(app, attendees_needing_feedback, clock.now) == []


# --- coordinators' changes to a workshop ---------------------------------------------------------


def test_moving_or_cancelling_a_workshop_names_who_to_tell(app, clock) -> None:
    """Seats and waitlist places are told, cancelled ones not; cancelling cancels them all."""
    workshop_id = add_workshop(app, clock, capacity=1)
    seated, waiting, gone = add_people(app, clock, 3)
    ids = [
        in_transaction(app, register, workshop_id, p, clock.now).registration_id
        for p in (seated, waiting, gone)
    ]
    in_transaction(app, cancel_registration, ids[2], gone, clock.now)

    new_start = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 09:00 on Sat 5 Dec in Lampang
    moved = in_transaction(
        app,
        reschedule_workshop,
        workshop_id,
        new_start,
        new_start + timedelta(hours=3),
        clock.now,
        "coordinator",
    )
    assert moved == ids[:2]
    with runtime_of(app).read_db() as session:
        workshop = session.get_one(Workshop, workshop_id)
        assert (workshop.starts_at, workshop.ends_at) == (new_start, new_start + timedelta(hours=3))
        assert workshop.registration_deadline == new_start - timedelta(days=1)

    told = in_transaction(app, cancel_workshop, workshop_id, clock.now, "coordinator")
    assert told == ids[:2]
    assert statuses(app, workshop_id) == {"cancelled": 3}
    assert history(app, ids[0])[-1] == ("cancelled", "coordinator")
    assert workshop_status(app, workshop_id) == "cancelled"
    assert in_transaction(app, cancel_workshop, workshop_id, clock.now, "coordinator") == []
    with runtime_of(app).read_db() as session:
        assert workshop_id not in {w.id for w in upcoming_workshops(session, clock.now)}
        assert my_registrations(session, seated, clock.now) == []


# --- the calendar file ---------------------------------------------------------------------------


def test_the_calendar_file_holds_the_workshop_with_an_alarm(app, client, clock) -> None:
    """Thai title, Lampang time, venue and map link, a reminder an hour before; 404 otherwise."""
    workshop_id = add_workshop(app, clock, capacity=5)
    (me,) = add_people(app, clock, 1)
    result = in_transaction(app, register, workshop_id, me, clock.now)
    with runtime_of(app).read_db() as session:
        (mine,) = my_registrations(session, me, clock.now)

    response = client.get(calendar_url(mine.calendar_token))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    (event,) = Calendar.from_ical(response.data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "การพัฒนารูปแบบบริการของรถม้าลำปางสร้างสรรค์"
    assert event.decoded("DTSTART") == mine.workshop.starts_at
    assert str(event.decoded("DTSTART").tzinfo) == "Asia/Bangkok"
    assert event.decoded("DTEND") == mine.workshop.ends_at
    assert str(event["LOCATION"]) == "หอประชุม เทศบาลนครลำปาง"
    assert mine.workshop.map_url in str(event["DESCRIPTION"])
    # the same on every download, and says nothing of how many registered before
    assert re.fullmatch(r"[0-9a-f-]{36}@lampang-creative-citizens", str(event["UID"]))
    again = Calendar.from_ical(client.get(calendar_url(mine.calendar_token)).data)
    assert str(again.walk("VEVENT")[0]["UID"]) == str(event["UID"])
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == -timedelta(hours=1)

    assert client.get(calendar_url("no-such-token")).status_code == 404
    in_transaction(app, cancel_registration, result.registration_id, me, clock.now)
    assert client.get(calendar_url(mine.calendar_token)).status_code == 404


# --- demo content --------------------------------------------------------------------------------


def test_load_demo_again_adds_no_workshops(app, clock) -> None:
    """The fixture loaded the demo once; loading it again on the same day changes nothing."""
    with runtime_of(app).read_db() as session:
        before = list(session.scalars(select(Workshop).order_by(Workshop.id)))
    assert len(before) == 7
    assert {w.capacity for w in before} >= {2, 30}
    tz = runtime_of(app).tz
    first = before[0]
    assert first.starts_at.astimezone(tz).replace(tzinfo=None) == datetime(2026, 11, 28, 9, 0)
    assert first.reminders == [{"days_before": 1, "at": "09:00"}, {"hours_before": 2}]

    clock.advance(hours=5)
    result = app.test_cli_runner().invoke(args=["load-demo"])
    assert result.exit_code == 0, result.output
    assert "0 demo workshops added" in result.output
    with runtime_of(app).read_db() as session:
        assert session.scalar(select(func.count()).select_from(Workshop)) == 7
