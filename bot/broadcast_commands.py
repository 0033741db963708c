"""`flask broadcast send`: a scripted notice, through the same use case and audit entry as the
console's broadcasts."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from bot.broadcasts import Notice, plan_broadcast, send_broadcast
from bot.coordinators import BY, acting_as
from bot.runtime import runtime
from storage.audience import Audience


@click.group("broadcast")
def broadcast_group() -> None:
    """Send notices to chosen respondents (as a named coordinator or admin)."""


@broadcast_group.command("send")
@click.option("--text", required=True, help="the notice in Thai")
@click.option("--text-en", default="", help="the notice for those who chose English")
@click.option("--link", default="", help="a link to add under the text")
@click.option("--survey", default="", help="a button that starts this survey (its form id)")
@click.option("--workshop", type=int, default=None, help="a button that opens this workshop")
@click.option("--group", "groups", multiple=True, help="a pilot group (repeat for more)")
@click.option("--municipality", "municipalities", multiple=True, help="a municipality code")
@click.option("--channel", default="", help="line, telegram or assisted")
@click.option(
    "--at",
    "wanted_at",
    type=click.DateTime(["%Y-%m-%d %H:%M"]),
    default=None,
    help="local time to send (Asia/Bangkok); now if not given",
)
@click.option("--urgent", is_flag=True, help="send even in quiet hours (21:00-08:00)")
@click.option("--dry-run", is_flag=True, help="say how many it would reach, and send nothing")
@BY
@with_appcontext
def send_command(
    text: str,
    text_en: str,
    link: str,
    survey: str,
    workshop: int | None,
    groups: tuple[str, ...],
    municipalities: tuple[str, ...],
    channel: str,
    wanted_at: datetime | None,
    urgent: bool,
    dry_run: bool,
    email: str,
) -> None:
    """Send a notice to everyone the filters leave in (all of them must hold)."""
    rt = runtime()
    actor = acting_as(rt, email)
    audience = Audience(groups=groups, municipalities=municipalities, channel=channel)
    when = wanted_at.replace(tzinfo=rt.tz) if wanted_at else None
    if dry_run:
        plan = plan_broadcast(rt, audience, when, urgent)
    else:
        try:
            broadcast_id, plan = send_broadcast(
                rt, actor, Notice(text, text_en, link, survey, workshop), audience, when, urgent
            )
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    reach = ", ".join(f"{name} {count}" for name, count in sorted(plan.reach.items())) or "nobody"
    local = plan.send_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M")
    moved = " (moved out of quiet hours)" if plan.moved else ""
    if dry_run:
        click.echo(f"would reach {plan.total}: {reach}; at {local}{moved}")
    else:
        click.echo(f"broadcast {broadcast_id}: {plan.total} messages ({reach}) due {local}{moved}")
