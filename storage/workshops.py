"""Workshops: dated sessions of courses, their seats and waitlists, check-in and attendance.

Every function takes a session and leaves the transaction to the caller. Anything that changes
who holds a seat first locks the workshop row, so seats are counted by one transaction at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from storage.models import Course, Registration, RegistrationChange, Workshop
from survey_flows.answer_checks import normalize_text

log = logging.getLogger(__name__)

#: Registrations that still count: a seat, or a place in the waitlist.
ACTIVE = ("registered", "waitlisted")
#: Registrations that hold a seat; attended and no_show keep theirs, for the record.
SEATED = ("registered", "attended", "no_show")
#: Workshops nobody can sign up for any more.
CLOSED = ("cancelled", "done")
#: Who a waitlist promotion is recorded as changed by: it happens without anyone asking.
PROMOTED_BY = "waitlist"
#: The after-workshop questions go out this long after the end, once people are home.
FEEDBACK_DELAY = timedelta(hours=1)
#: How far ahead a workshop may be set.
FURTHEST_AHEAD = timedelta(days=2 * 365)
#: Reminders of a new workshop: the day before at 09:00, and two hours before.
DEFAULT_REMINDERS = ({"days_before": 1, "at": "09:00"}, {"hours_before": 2})
#: The columns of demo/workshops.csv that must be filled in; deadline_days_before (0 when
#: empty: the deadline is the start) and checkin_code may be left blank.
DEMO_REQUIRED = ("course_code", "days_from_now", "start", "end", "venue", "map_url", "capacity")


@dataclass(frozen=True)
class WorkshopView:
    """A workshop with its course, as the chat shows it; detached from the session."""

    id: int
    course_code: str
    title_th: str
    title_en: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    venue: str
    map_url: str
    capacity: int
    seats_left: int
    status: str
    registration_deadline: datetime
    groups: tuple[str, ...]
    focus: tuple[str, ...]


class Outcome(StrEnum):
    """What came of asking for a seat."""

    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    ALREADY = "already"
    DEADLINE_PASSED = "deadline_passed"
    CANCELLED = "cancelled"
    STARTED = "started"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class RegisterResult:
    """The outcome of `register`; position is the 1-based place in the waitlist."""

    outcome: Outcome
    registration_id: int | None = None
    position: int | None = None
    workshop: WorkshopView | None = None


@dataclass(frozen=True)
class CancelResult:
    """The outcome of `cancel_registration`, and who got the freed seat, if anyone."""

    cancelled: bool
    promoted_registration_id: int | None = None
    promoted_respondent_id: int | None = None
    workshop: WorkshopView | None = None


@dataclass(frozen=True)
class MyRegistration:
    """One of a respondent's registrations, with its place in the waitlist when waitlisted."""

    id: int
    workshop: WorkshopView
    status: str
    position: int | None
    calendar_token: str


# --- reading -------------------------------------------------------------------------------------


def upcoming_workshops(
    session: Session, now: datetime, group: str | None = None, course_code: str | None = None
) -> list[WorkshopView]:
    """Workshops still to start and not cancelled: those for `group` first, then by start."""
    query = (
        select(Workshop)
        .join(Workshop.course)
        .options(contains_eager(Workshop.course))
        .where(Workshop.starts_at > now, Workshop.status.not_in(CLOSED))
    )
    if course_code is not None:
        query = query.where(Course.code == course_code)
    workshops = sorted(
        session.scalars(query),
        # groups is a JSON list, which SQLite and PostgreSQL query differently: sort here
        key=lambda w: (group is not None and group not in w.course.groups, w.starts_at, w.id),
    )
    return _views(session, workshops)


def my_registrations(session: Session, respondent_id: int, now: datetime) -> list[MyRegistration]:
    """The respondent's seats and waitlist places at workshops not yet over, soonest first."""
    registrations = list(
        session.scalars(
            select(Registration)
            .join(Registration.workshop)
            .options(contains_eager(Registration.workshop).joinedload(Workshop.course))
            .where(
                Registration.respondent_id == respondent_id,
                Registration.status.in_(ACTIVE),
                Workshop.ends_at > now,
            )
            .order_by(Workshop.starts_at, Registration.id)
        )
    )
    views = {view.id: view for view in _views(session, [r.workshop for r in registrations])}
    return [_mine(session, r, views[r.workshop_id]) for r in registrations]


def waitlist_position(session: Session, registration: Registration) -> int | None:
    """The 1-based place of a waitlisted registration (by waitlisted_at, then id); else None."""
    if registration.status != "waitlisted":
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(
            Registration.workshop_id == registration.workshop_id,
            Registration.status == "waitlisted",
            or_(
                Registration.waitlisted_at < registration.waitlisted_at,
                and_(
                    Registration.waitlisted_at == registration.waitlisted_at,
                    Registration.id < registration.id,
                ),
            ),
        )
    )
    return (ahead or 0) + 1


def attendees_needing_feedback(session: Session, now: datetime) -> list[tuple[int, int]]:
    """(workshop id, respondent id) of attendees of workshops that ended an hour or more ago
    and whose feedback has not gone out; the caller sets the workshops' feedback_sent_at."""
    rows = session.execute(
        select(Registration.workshop_id, Registration.respondent_id)
        .join(Registration.workshop)
        .where(
            Workshop.ends_at <= now - FEEDBACK_DELAY,
            Workshop.feedback_sent_at.is_(None),
            Workshop.status != "cancelled",
            Registration.status == "attended",
        )
        .order_by(Registration.workshop_id, Registration.respondent_id)
    )
    return [(workshop_id, respondent_id) for workshop_id, respondent_id in rows]


# --- a respondent's own changes ------------------------------------------------------------------


def register(
    session: Session, workshop_id: int, respondent_id: int, now: datetime, by: str = "respondent"
) -> RegisterResult:
    """Give the respondent a seat if one is free, else a place in the waitlist."""
    workshop = _lock_workshop(session, workshop_id)
    if workshop is None:
        return RegisterResult(Outcome.NOT_FOUND)
    registration = session.scalars(
        select(Registration)
        .where(Registration.workshop_id == workshop_id, Registration.respondent_id == respondent_id)
        .execution_options(populate_existing=True)
    ).first()
    refusal = None
    if workshop.status == "cancelled":
        refusal = Outcome.CANCELLED
    elif registration is not None and registration.status != "cancelled":
        refusal = Outcome.ALREADY
    elif now >= workshop.starts_at or workshop.status == "done":
        refusal = Outcome.STARTED
    elif now > workshop.registration_deadline:
        refusal = Outcome.DEADLINE_PASSED
    if refusal is Outcome.ALREADY and registration is not None:
        position = waitlist_position(session, registration)
        return RegisterResult(refusal, registration.id, position, _view(session, workshop))
    if refusal is not None:
        return RegisterResult(refusal, workshop=_view(session, workshop))
    seat_free = _seats_taken(session, workshop_id) < workshop.capacity
    if registration is None:
        registration = Registration(
            workshop_id=workshop_id, respondent_id=respondent_id, created_at=now
        )
        session.add(registration)
    registration.status = "registered" if seat_free else "waitlisted"
    # A returning respondent joins the back of the waitlist, not their old place in it.
    registration.waitlisted_at = None if seat_free else now
    session.flush()
    _record(session, registration, now, by)
    _keep_status_in_step(session, workshop)
    return RegisterResult(
        Outcome.REGISTERED if seat_free else Outcome.WAITLISTED,
        registration.id,
        waitlist_position(session, registration),
        _view(session, workshop),
    )


def cancel_registration(
    session: Session,
    registration_id: int,
    respondent_id: int,
    now: datetime,
    by: str = "respondent",
) -> CancelResult:
    """Cancel the respondent's own seat or waitlist place; a freed seat goes to the waitlist."""
    workshop_id = session.scalar(
        select(Registration.workshop_id).where(
            Registration.id == registration_id, Registration.respondent_id == respondent_id
        )
    )
    workshop = _lock_workshop(session, workshop_id) if workshop_id is not None else None
    if workshop is None:
        return CancelResult(cancelled=False)
    # Read again under the lock: another transaction may have changed it while we waited.
    registration = session.get(Registration, registration_id, populate_existing=True)
    if registration is None or registration.status not in ACTIVE:
        return CancelResult(cancelled=False, workshop=_view(session, workshop))
    held_seat = registration.status == "registered"
    _set_status(session, registration, "cancelled", now, by)
    promoted = None
    # A seat freed once the workshop has begun is of no use to anyone waiting.
    if held_seat and now < workshop.starts_at and workshop.status not in CLOSED:
        promoted = _promote_first_waiting(session, workshop, now)
    _keep_status_in_step(session, workshop)
    return CancelResult(
        cancelled=True,
        promoted_registration_id=promoted.id if promoted else None,
        promoted_respondent_id=promoted.respondent_id if promoted else None,
        workshop=_view(session, workshop),
    )


def check_in(
    session: Session, respondent_id: int, code: str, now: datetime, tz: ZoneInfo
) -> MyRegistration | None:
    """Mark the respondent attended at today's workshop whose check-in code they typed.

    Typing the code again once checked in finds the same registration and changes nothing.
    """
    today = now.astimezone(tz).date()
    day_start = datetime.combine(today, time(0), tzinfo=tz)
    typed = _code(code)
    if not typed:
        return None
    candidates = session.scalars(
        select(Registration)
        .join(Registration.workshop)
        .options(contains_eager(Registration.workshop).joinedload(Workshop.course))
        .where(
            Registration.respondent_id == respondent_id,
            Registration.status.in_(("registered", "attended")),
            Workshop.status != "cancelled",
            Workshop.starts_at >= day_start,
            Workshop.starts_at < day_start + timedelta(days=1),
        )
        .order_by(Workshop.starts_at)
    )
    registration = next((r for r in candidates if _code(r.workshop.checkin_code) == typed), None)
    if registration is None:
        return None
    if registration.status == "registered":
        _set_status(session, registration, "attended", now, "respondent")
    return _mine(session, registration, _view(session, registration.workshop))


# --- coordinators' changes -----------------------------------------------------------------------


def mark_attendance(
    session: Session, registration_id: int, attended: bool, by: str, now: datetime
) -> None:
    """Record whether someone came (attended) or not (no_show), as a coordinator saw it."""
    registration = session.get(Registration, registration_id)
    if registration is None:
        raise LookupError(f"no registration {registration_id}")
    status = "attended" if attended else "no_show"
    if registration.status != status:
        _set_status(session, registration, status, now, by)


def reschedule_workshop(
    session: Session,
    workshop_id: int,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    by: str,
) -> list[int]:
    """Move a workshop (its deadline moves with it); returns the ids of those to tell."""
    _check_times(starts_at, ends_at, now)
    workshop = _lock_workshop(session, workshop_id)
    if workshop is None:
        raise LookupError(f"no workshop {workshop_id}")
    if workshop.status in CLOSED:
        raise Refused("closed")
    workshop.registration_deadline += starts_at - workshop.starts_at
    workshop.starts_at, workshop.ends_at = starts_at, ends_at
    # No registration changes status, so the history has no row for this: the log keeps it.
    log.info("workshop %s moved to %s by %s", workshop_id, starts_at.isoformat(), by)
    return _active_ids(session, workshop_id)


class Refused(ValueError):
    """A workshop change that cannot be: `reason` says why (past, too_far, ends_first, closed,
    no_venue, seats_taken, deadline_after_start), `taken` the seats already taken."""

    def __init__(self, reason: str, taken: int = 0):
        super().__init__(reason if not taken else f"{reason}: {taken} seats are taken already")
        self.reason, self.taken = reason, taken


@dataclass(frozen=True)
class WorkshopDetails:
    """What a coordinator sets on a workshop besides its time: where, how many, until when."""

    venue: str
    map_url: str
    capacity: int
    registration_deadline: datetime
    checkin_code: str = ""


@dataclass(frozen=True)
class WorkshopChange:
    """What changing a workshop's details did: who moved up from the waitlist, and whether
    registrants must hear of a new place."""

    promoted: tuple[Registration, ...]
    #: Those still registered or waiting, to tell of the new place (none if it stayed).
    to_tell: tuple[int, ...]
    workshop: WorkshopView


def add_workshop(
    session: Session,
    course_id: int,
    starts_at: datetime,
    ends_at: datetime,
    details: WorkshopDetails,
    now: datetime,
) -> Workshop:
    """A new dated session of a course, open for sign-up, with the default reminders."""
    if session.get(Course, course_id) is None:
        raise LookupError(f"no course {course_id}")
    _check_times(starts_at, ends_at, now)
    _check_details(details, starts_at, seated=0)
    workshop = Workshop(
        course_id=course_id,
        starts_at=starts_at,
        ends_at=ends_at,
        status="open",
        reminders=[dict(reminder) for reminder in DEFAULT_REMINDERS],
        **_columns(details),
    )
    session.add(workshop)
    session.flush()
    return workshop


def change_workshop(
    session: Session, workshop_id: int, details: WorkshopDetails, now: datetime
) -> WorkshopChange:
    """Change a workshop's place, seats, deadline or code word. More seats go at once to the
    waitlist, in its order; fewer seats than are already taken is refused (nobody is bumped)."""
    workshop = _lock_workshop(session, workshop_id)
    if workshop is None:
        raise LookupError(f"no workshop {workshop_id}")
    if workshop.status in CLOSED:
        raise Refused("closed")
    _check_details(details, workshop.starts_at, seated=_seats_taken(session, workshop_id))
    venue_changed = (details.venue, details.map_url) != (workshop.venue, workshop.map_url)
    for column, value in _columns(details).items():
        setattr(workshop, column, value)
    promoted: list[Registration] = []
    # a seat that frees up once the workshop has begun is of no use to anyone waiting
    while now < workshop.starts_at and (moved_up := _promote_first_waiting(session, workshop, now)):
        promoted.append(moved_up)
    _keep_status_in_step(session, workshop)
    already = {registration.id for registration in promoted}
    # everyone holding a seat hears of a new place, even one marked early as come or not
    holding = _active_ids(session, workshop_id, (*SEATED, "waitlisted"))
    to_tell = tuple(i for i in holding if i not in already)
    return WorkshopChange(
        tuple(promoted), to_tell if venue_changed else (), _view(session, workshop)
    )


def _check_times(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= starts_at:
        raise Refused("ends_first")
    if starts_at <= now:
        raise Refused("past")
    if starts_at > now + FURTHEST_AHEAD:  # a mistyped year, not a plan
        raise Refused("too_far")


def _check_details(details: WorkshopDetails, starts_at: datetime, seated: int) -> None:
    if not details.venue.strip():
        raise Refused("no_venue")
    if details.capacity < max(1, seated):
        raise Refused("seats_taken", seated)
    if details.registration_deadline > starts_at:
        raise Refused("deadline_after_start")


def _columns(details: WorkshopDetails) -> dict[str, object]:
    return {
        "venue": details.venue.strip(),
        "map_url": details.map_url.strip(),
        "capacity": details.capacity,
        "registration_deadline": details.registration_deadline,
        "checkin_code": details.checkin_code.strip(),
    }


def cancel_workshop(session: Session, workshop_id: int, now: datetime, by: str) -> list[int]:
    """Cancel a workshop and every seat and waitlist place; returns the ids of those to tell."""
    workshop = _lock_workshop(session, workshop_id)
    if workshop is None:
        raise LookupError(f"no workshop {workshop_id}")
    if workshop.status == "cancelled":
        return []
    workshop.status = "cancelled"
    ids = _active_ids(session, workshop_id)
    for registration in session.scalars(select(Registration).where(Registration.id.in_(ids))):
        _set_status(session, registration, "cancelled", now, by)
    return ids


# --- demo content --------------------------------------------------------------------------------


def save_demo_workshops(
    session: Session, rows: Iterable[Mapping[str, str]], now: datetime, tz: ZoneInfo
) -> int:
    """Add the demo workshops at dates relative to `now`, skipping a course's existing date."""
    today = now.astimezone(tz).date()
    created = 0
    for row in rows:
        missing = [column for column in DEMO_REQUIRED if not (row.get(column) or "").strip()]
        if missing:
            raise ValueError(f"workshop {row.get('course_code') or '?'} lacks {', '.join(missing)}")
        code = row["course_code"].strip()
        course = session.scalars(select(Course).where(Course.code == code)).first()
        if course is None:
            raise ValueError(f"workshop of unknown course {code}")
        day = today + timedelta(days=int(row["days_from_now"]))
        starts_at = datetime.combine(day, time.fromisoformat(row["start"].strip()), tzinfo=tz)
        ends_at = datetime.combine(day, time.fromisoformat(row["end"].strip()), tzinfo=tz)
        day_start = datetime.combine(day, time(0), tzinfo=tz)
        exists = session.scalar(
            select(Workshop.id).where(
                Workshop.course_id == course.id,
                Workshop.starts_at >= day_start,
                Workshop.starts_at < day_start + timedelta(days=1),
            )
        )
        if exists is not None:
            continue
        session.add(
            Workshop(
                course_id=course.id,
                starts_at=starts_at,
                ends_at=ends_at,
                venue=row["venue"].strip(),
                map_url=row["map_url"].strip(),
                capacity=int(row["capacity"]),
                registration_deadline=starts_at
                - timedelta(days=int(row.get("deadline_days_before") or 0)),
                status="open",
                checkin_code=(row.get("checkin_code") or "").strip(),
                reminders=[dict(reminder) for reminder in DEFAULT_REMINDERS],
            )
        )
        created += 1
    session.flush()
    return created


# --- helpers -------------------------------------------------------------------------------------


def _lock_workshop(session: Session, workshop_id: int) -> Workshop | None:
    # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE has already serialised the writers.
    return session.scalars(
        select(Workshop)
        .where(Workshop.id == workshop_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _seats_taken(session: Session, workshop_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Registration)
            .where(Registration.workshop_id == workshop_id, Registration.status.in_(SEATED))
        )
        or 0
    )


def _keep_status_in_step(session: Session, workshop: Workshop) -> None:
    if workshop.status in CLOSED:
        return
    full = _seats_taken(session, workshop.id) >= workshop.capacity
    workshop.status = "full" if full else "open"


def _promote_first_waiting(
    session: Session, workshop: Workshop, now: datetime
) -> Registration | None:
    if _seats_taken(session, workshop.id) >= workshop.capacity:
        return None
    first = session.scalars(
        select(Registration)
        .where(Registration.workshop_id == workshop.id, Registration.status == "waitlisted")
        .order_by(Registration.waitlisted_at, Registration.id)
        .limit(1)
    ).first()
    if first is not None:
        _set_status(session, first, "registered", now, PROMOTED_BY)
    return first


def _set_status(
    session: Session, registration: Registration, status: str, now: datetime, by: str
) -> None:
    registration.status = status
    _record(session, registration, now, by)


def _record(session: Session, registration: Registration, now: datetime, by: str) -> None:
    session.add(
        RegistrationChange(
            registration_id=registration.id,
            status=registration.status,
            changed_at=now,
            changed_by=by,
        )
    )


def _active_ids(session: Session, workshop_id: int, statuses: Sequence[str] = ACTIVE) -> list[int]:
    return list(
        session.scalars(
            select(Registration.id)
            .where(Registration.workshop_id == workshop_id, Registration.status.in_(statuses))
            .order_by(Registration.id)
        )
    )


def _code(text: str) -> str:
    # Codes are short words from a sign: "ม้า 42", "ม้า๔๒" and "ม้า42" are all the same code.
    return normalize_text(text).replace(" ", "")


def _mine(session: Session, registration: Registration, view: WorkshopView) -> MyRegistration:
    return MyRegistration(
        id=registration.id,
        workshop=view,
        status=registration.status,
        position=waitlist_position(session, registration),
        calendar_token=registration.calendar_token,
    )


def _view(session: Session, workshop: Workshop) -> WorkshopView:
    return _views(session, [workshop])[0]


def _views(session: Session, workshops: Sequence[Workshop]) -> list[WorkshopView]:
    ids = {w.id for w in workshops}
    taken: dict[int, int] = {}
    if ids:
        taken = dict(
            session.execute(
                select(Registration.workshop_id, func.count())
                .where(Registration.workshop_id.in_(ids), Registration.status.in_(SEATED))
                .group_by(Registration.workshop_id)
            ).all()
        )
    return [
        WorkshopView(
            id=w.id,
            course_code=w.course.code,
            title_th=w.course.title_th,
            title_en=w.course.title_en,
            kind=w.course.kind,
            starts_at=w.starts_at,
            ends_at=w.ends_at,
            venue=w.venue,
            map_url=w.map_url,
            capacity=w.capacity,
            seats_left=max(0, w.capacity - taken.get(w.id, 0)),
            status=w.status,
            registration_deadline=w.registration_deadline,
            groups=tuple(w.course.groups),
            focus=tuple(w.course.focus),
        )
        for w in workshops
    ]
