"""What coordinators do from the command line (the use cases are bot/coordination.py's, as in
the console), and the questions after a workshop."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from bot.console.roles import ADMIN, COORDINATOR
from bot.coordination import Actor, cancel_workshop, mark_attendance, reschedule_workshop
from bot.runtime import Runtime, runtime
from bot.service import Inbound
from storage import workshops
from storage.models import Respondent, Workshop
from storage.staff import find_user
from survey_flows.session import FeedbackInput


@click.group("workshops")
def workshops_group() -> None:
    """Manage workshops: attendance, time changes, cancellations (as a named staff user)."""


BY = click.option(
    "--by",
    "email",
    required=True,
    help="the email of the coordinator or admin doing it (see create-user); it is audited",
)


def acting_as(rt: Runtime, email: str) -> Actor:
    """The staff user the command acts as: an active coordinator or admin."""
    with rt.db() as session:
        user = find_user(session, email)
        if user is None or not user.active or user.role not in (ADMIN, COORDINATOR):
            raise click.ClickException(f"{email} is not an active coordinator or admin")
        return Actor(user.email, user.role, "cli")


@workshops_group.command("attendance")
@click.argument("registration_id", type=int)
@click.option("--attended/--no-show", default=True, help="mark present (default) or absent")
@BY
@with_appcontext
def attendance_command(registration_id: int, attended: bool, email: str) -> None:
    """Mark a registration as attended or no-show."""
    rt = runtime()
    try:
        mark_attendance(rt, acting_as(rt, email), registration_id, attended)
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo("attended" if attended else "no-show")


@workshops_group.command("reschedule")
@click.argument("workshop_id", type=int)
@click.option("--start", "starts", required=True, type=click.DateTime(["%Y-%m-%d %H:%M"]))
@click.option("--end", "ends", required=True, type=click.DateTime(["%Y-%m-%d %H:%M"]))
@BY
@with_appcontext
def reschedule_command(workshop_id: int, starts: datetime, ends: datetime, email: str) -> None:
    """Move a workshop (local times, e.g. "2026-12-05 09:00"); reminders move, people are told."""
    rt = runtime()
    start, end = starts.replace(tzinfo=rt.tz), ends.replace(tzinfo=rt.tz)
    try:
        told = reschedule_workshop(rt, acting_as(rt, email), workshop_id, start, end)
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"moved; {told} registrants told")


@workshops_group.command("cancel")
@click.argument("workshop_id", type=int)
@BY
@with_appcontext
def cancel_command(workshop_id: int, email: str) -> None:
    """Cancel a workshop; its registrants are told and get no more reminders."""
    rt = runtime()
    try:
        told = cancel_workshop(rt, acting_as(rt, email), workshop_id)
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"cancelled; {told} registrants told")


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
