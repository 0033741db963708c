"""What coordinators do from the command line until the console exists: attendance, moving or
cancelling a workshop (registrants are told), and the questions after a workshop."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from bot.runtime import Runtime, runtime
from bot.service import Inbound
from bot.workshops import WorkshopDesk
from storage import workshops
from storage.models import Registration, Respondent, Workshop
from storage.outbox import enqueue
from storage.reminders import reschedule_reminders
from survey_flows.session import FeedbackInput


@click.group("workshops")
def workshops_group() -> None:
    """Manage workshops: attendance, time changes, cancellations."""


@workshops_group.command("attendance")
@click.argument("registration_id", type=int)
@click.option("--attended/--no-show", default=True, help="mark present (default) or absent")
@click.option("--by", default="coordinator", show_default=True, help="who is marking it")
@with_appcontext
def attendance_command(registration_id: int, attended: bool, by: str) -> None:
    """Mark a registration as attended or no-show."""
    rt = runtime()
    with rt.db.begin() as session:
        workshops.mark_attendance(session, registration_id, attended, by, rt.clock())
    click.echo("attended" if attended else "no-show")


@workshops_group.command("reschedule")
@click.argument("workshop_id", type=int)
@click.option("--start", "starts", required=True, type=click.DateTime(["%Y-%m-%d %H:%M"]))
@click.option("--end", "ends", required=True, type=click.DateTime(["%Y-%m-%d %H:%M"]))
@click.option("--by", default="coordinator", show_default=True)
@with_appcontext
def reschedule_command(workshop_id: int, starts: datetime, ends: datetime, by: str) -> None:
    """Move a workshop (local times, e.g. "2026-12-05 09:00"); reminders move, people are told."""
    rt = runtime()
    now = rt.clock()
    start, end = starts.replace(tzinfo=rt.tz), ends.replace(tzinfo=rt.tz)
    with rt.db.begin() as session:
        affected = workshops.reschedule_workshop(session, workshop_id, start, end, now, by)
        desk = WorkshopDesk(session, now, rt.tz, rt.public_base_url, rt.self_delivering)
        workshop = session.get(Workshop, workshop_id)
        reschedule_reminders(session, workshop_id, now, rt.tz, desk.reminder_renderer)
        _tell(rt, session, affected, workshop, "notice.moved", desk)
    click.echo(f"moved; {len(affected)} registrants told")


@workshops_group.command("cancel")
@click.argument("workshop_id", type=int)
@click.option("--by", default="coordinator", show_default=True)
@with_appcontext
def cancel_command(workshop_id: int, by: str) -> None:
    """Cancel a workshop; its registrants are told and get no more reminders."""
    rt = runtime()
    now = rt.clock()
    with rt.db.begin() as session:
        affected = workshops.cancel_workshop(session, workshop_id, now, by)
        desk = WorkshopDesk(session, now, rt.tz, rt.public_base_url, rt.self_delivering)
        _tell(
            rt,
            session,
            affected,
            session.get(Workshop, workshop_id),
            "notice.workshop_cancelled",
            desk,
        )
    click.echo(f"cancelled; {len(affected)} registrants told")


def _tell(rt: Runtime, session, registration_ids: list[int], workshop, key: str, desk) -> None:
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


def invite_to_feedback(rt: Runtime, now: datetime) -> int:
    """Ask the attendees of workshops that ended an hour ago how it was; once per workshop."""
    with rt.db.begin() as session:
        due = workshops.attendees_needing_feedback(session, now)
        people = []
        for workshop_id, respondent_id in due:
            workshop = session.get(Workshop, workshop_id)
            respondent = session.get(Respondent, respondent_id)
            title = {"th": workshop.course.title_th, "en": workshop.course.title_en}
            people.append((respondent.channel, respondent.channel_user_id, workshop_id, title))
            workshop.feedback_sent_at = now
    for channel, user_id, workshop_id, title in people:
        rt.handle(
            Inbound(
                channel,
                user_id,
                FeedbackInput(workshop_id, title),
                event_id=f"feedback:{workshop_id}:{user_id}"[:128],
            )
        )
    return len(people)
