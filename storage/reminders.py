"""Workshop reminders: outbox rows due at the times a workshop asks for, checked again at sending.

A reminder is written when a seat is taken, as an ordinary outbox row (kind "reminder") due at
its time, so it survives restarts and is shared between workers like any other message. What
may change in between (a cancelled seat or workshop, a moved start, a respondent who blocked the
bot, a worker that was down past the start) is checked by `still_wanted` just before sending.
Quiet hours do not apply: a reminder goes at the time its workshop chose for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import OutboxMessage, Registration, Respondent, Workshop
from storage.outbox import enqueue

#: Builds a reminder's payload ({"text", "buttons"}) from the workshop and the reminder's time;
#: the caller supplies it, so the wording stays in the message catalogs.
Render = Callable[[Workshop, datetime], dict[str, Any]]

#: Why a reminder whose respondent blocked the bot is not sent (the same words as for any message).
UNREACHABLE = "respondent unreachable (unfollowed)"


def reminder_times(workshop: Workshop, tz: ZoneInfo) -> list[datetime]:
    """The moments (UTC, soonest first) the workshop's reminders fall due, all before its start.

    `{"days_before": 1, "at": "09:00"}` is 09:00 local time (in `tz`) on the day before the start
    (without "at": the start's own time of day); `{"hours_before": 2}` is two hours before it.
    """
    starts_at = workshop.starts_at.astimezone(UTC)
    local_start = starts_at.astimezone(tz)
    moments = set()
    for spec in workshop.reminders:
        if "days_before" in spec:
            day = local_start.date() - timedelta(days=int(spec["days_before"]))
            at = time.fromisoformat(spec["at"]) if "at" in spec else local_start.time()
            moment = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
        elif "hours_before" in spec:
            moment = starts_at - timedelta(hours=float(spec["hours_before"]))
        else:
            raise ValueError(f"a reminder needs days_before or hours_before: {spec!r}")
        if moment < starts_at:
            moments.add(moment)
    return sorted(moments)


def schedule_reminders(
    session: Session,
    registration: Registration,
    respondent: Respondent,
    now: datetime,
    tz: ZoneInfo,
    render: Render,
) -> int:
    """Queue the registration's reminders still ahead, replacing any pending; return how many.

    Replacing makes a second call harmless (a waitlist promotion after a re-registration, say):
    a respondent never gets the same reminder twice. Only a seat ("registered") gets reminders.
    """
    cancel_reminders(session, registration.id)
    workshop = registration.workshop
    if registration.status != "registered" or workshop.status == "cancelled":
        return 0
    ahead = [due_at for due_at in reminder_times(workshop, tz) if due_at > now]
    for due_at in ahead:
        enqueue(
            session,
            respondent,
            [render(workshop, due_at)],
            now,
            due_at=due_at,
            kind="reminder",
            registration_id=registration.id,
        )
    return len(ahead)


def cancel_reminders(session: Session, registration_id: int) -> int:
    """Delete the registration's reminders not yet sent; return how many.

    One being sent at this moment ("sending") is left to its sender: `still_wanted` stops it if
    its claim lapses and it is taken again.
    """
    result = session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.registration_id == registration_id,
            OutboxMessage.kind == "reminder",
            OutboxMessage.status == "pending",
        )
        # "fetch" finds the deleted rows' objects by key; the default would test every
        # OutboxMessage in the session, which grows with each registration rescheduled
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def reschedule_reminders(
    session: Session,
    workshop_id: int,
    now: datetime,
    tz: ZoneInfo,
    render_in: Callable[[str], Render],
) -> int:
    """Queue again the reminders of every seat at a workshop whose times changed, each in its
    respondent's language (`render_in(language)`); return how many.

    Reminders already sent stay sent; those of the new times still ahead are queued, so a
    workshop moved to a later day reminds its attendees again, and one cancelled reminds no one.
    """
    seats = session.execute(
        select(Registration, Respondent)
        .join(Respondent, Respondent.id == Registration.respondent_id)
        .where(Registration.workshop_id == workshop_id, Registration.status == "registered")
        .order_by(Registration.id)
    ).all()
    return sum(
        schedule_reminders(
            session, registration, respondent, now, tz, render_in(respondent.language)
        )
        for registration, respondent in seats
    )


def still_wanted(session: Session, row: OutboxMessage, now: datetime) -> str | None:
    """None if a due reminder should go now; else why it should be dropped instead."""
    registration = (
        session.get(Registration, row.registration_id) if row.registration_id is not None else None
    )
    if registration is None:
        return "registration not found"
    if registration.status != "registered":
        return f"registration {registration.status}"
    workshop = registration.workshop
    if workshop.status == "cancelled":
        return "workshop cancelled"
    if now >= workshop.starts_at:
        return f"stale: the workshop started at {workshop.starts_at.isoformat()}"
    respondent = session.get(Respondent, registration.respondent_id)
    if respondent is None or not respondent.reachable:
        return UNREACHABLE
    return None
