"""What coordinators do, as use cases that the console and the CLI both call: courses, new
workshops and their details (more seats go to the waitlist), attendance, moving or cancelling a
workshop (registrants are told), each done by a named staff user and written to the audit log in
the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.workshops import WorkshopDesk
from storage import workshops
from storage.courses import save_courses
from storage.models import Course, Registration, Respondent, StaffUser, Workshop
from storage.outbox import enqueue
from storage.reminders import reschedule_reminders
from storage.staff import audit


@dataclass(frozen=True)
class Actor:
    """The staff user doing something, and where from (their address, or "cli")."""

    email: str
    role: str
    address: str = ""

    @classmethod
    def of(cls, user: StaffUser, address: str = "") -> Actor:
        """The actor a signed-in account stands for."""
        return cls(user.email, user.role, address)

    def audit(
        self, session: Session, action: str, now: datetime, target: str, **detail: object
    ) -> None:
        """Write what this actor did to the audit log, in the caller's transaction."""
        audit(session, self.email, action, now, target=target, address=self.address, **detail)


def save_course(rt: Runtime, actor: Actor, row: dict[str, str]) -> int:
    """Add a course, or change the one with this code (ValueError for what is missing or
    wrong); return its id."""
    now = rt.clock()
    with rt.db.begin() as session:
        save_courses(session, [row])
        course_id = session.scalar(select(Course.id).where(Course.code == row["code"].strip()))
        actor.audit(
            session,
            "course.saved",
            now,
            f"course:{course_id}",
            code=row["code"].strip(),
        )
    return course_id


def add_workshop(
    rt: Runtime,
    actor: Actor,
    course_id: int,
    starts: datetime,
    ends: datetime,
    details: workshops.WorkshopDetails,
) -> int:
    """Open a new workshop of a course for sign-up; return its id (LookupError for no such
    course, ValueError for times or details that cannot be)."""
    now = rt.clock()
    with rt.db.begin() as session:
        workshop = workshops.add_workshop(session, course_id, starts, ends, details, now)
        actor.audit(
            session,
            "workshop.added",
            now,
            f"workshop:{workshop.id}",
            course=course_id,
            starts=starts.isoformat(),
            capacity=details.capacity,
        )
        return workshop.id


def change_workshop(
    rt: Runtime, actor: Actor, workshop_id: int, details: workshops.WorkshopDetails
) -> workshops.WorkshopChange:
    """Change a workshop's place, seats, deadline or code word: those who move up from the
    waitlist get their seat and hear of it, and a new place is told to every registrant."""
    now = rt.clock()
    with rt.db.begin() as session:
        change = workshops.change_workshop(session, workshop_id, details, now)
        desk = WorkshopDesk(session, now, rt.tz, rt.public_base_url, rt.self_delivering)
        for registration in change.promoted:
            desk.tell_promoted(registration.respondent_id, registration.id, change.workshop)
        workshop = session.get(Workshop, workshop_id)
        if change.to_tell:
            # the reminders say where to go, so they are written again with the new place
            reschedule_reminders(session, workshop_id, now, rt.tz, desk.reminder_renderer)
            _tell(rt, session, list(change.to_tell), workshop, "notice.venue_changed", desk)
        actor.audit(
            session,
            "workshop.changed",
            now,
            f"workshop:{workshop_id}",
            venue=details.venue,
            capacity=details.capacity,
            promoted=len(change.promoted),
            told=len(change.to_tell),
        )
    return change


def mark_attendance(rt: Runtime, actor: Actor, registration_id: int, attended: bool) -> int:
    """Record whether someone came (attended) or not (no-show); return the workshop's id
    (LookupError for no such registration)."""
    now = rt.clock()
    with rt.db.begin() as session:
        workshops.mark_attendance(session, registration_id, attended, actor.email, now)
        workshop_id = session.get(Registration, registration_id).workshop_id
        actor.audit(
            session,
            "attendance.marked",
            now,
            f"registration:{registration_id}",
            workshop=workshop_id,
            attended=attended,
        )
    return workshop_id


def reschedule_workshop(
    rt: Runtime, actor: Actor, workshop_id: int, starts: datetime, ends: datetime
) -> int:
    """Move a workshop: its reminders move and its registrants are told; returns how many."""
    now = rt.clock()
    with rt.db.begin() as session:
        affected = workshops.reschedule_workshop(
            session, workshop_id, starts, ends, now, actor.email
        )
        desk = WorkshopDesk(session, now, rt.tz, rt.public_base_url, rt.self_delivering)
        workshop = session.get(Workshop, workshop_id)
        reschedule_reminders(session, workshop_id, now, rt.tz, desk.reminder_renderer)
        _tell(rt, session, affected, workshop, "notice.moved", desk)
        actor.audit(
            session,
            "workshop.rescheduled",
            now,
            f"workshop:{workshop_id}",
            starts=starts.isoformat(),
            ends=ends.isoformat(),
            told=len(affected),
        )
    return len(affected)


def cancel_workshop(rt: Runtime, actor: Actor, workshop_id: int) -> int:
    """Cancel a workshop: its registrants are told and get no more reminders; returns how many."""
    now = rt.clock()
    with rt.db.begin() as session:
        affected = workshops.cancel_workshop(session, workshop_id, now, actor.email)
        desk = WorkshopDesk(session, now, rt.tz, rt.public_base_url, rt.self_delivering)
        workshop = session.get(Workshop, workshop_id)
        _tell(rt, session, affected, workshop, "notice.workshop_cancelled", desk)
        actor.audit(
            session,
            "workshop.cancelled",
            now,
            f"workshop:{workshop_id}",
            told=len(affected),
        )
    return len(affected)


def _tell(
    rt: Runtime,
    session: Session,
    registration_ids: list[int],
    workshop: Workshop,
    key: str,
    desk: WorkshopDesk,
) -> None:
    """Queue a notice for each affected registrant, in their language."""
    for registration_id in registration_ids:
        registration = session.get(Registration, registration_id)
        respondent = session.get(Respondent, registration.respondent_id)
        notice = desk.notice(key, workshop, respondent.language)
        enqueue(
            session,
            respondent,
            [notice],
            rt.clock(),
            delivered=respondent.channel in rt.self_delivering,
            kind="notice",
        )
