"""Commands: flask --app bot migrate | import-survey | load-demo | export."""

from __future__ import annotations

import csv
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from bot import worker
from bot.broadcast_commands import broadcast_group
from bot.coordinators import workshops_group
from bot.export_commands import export_command, export_open_data_command
from bot.runtime import runtime
from bot.surveys import import_survey
from storage.courses import save_courses
from storage.migrate import upgrade
from storage.workshops import save_demo_workshops
from survey_flows.xlsform import FormError

#: The built-in forms, imported by load-demo; the profile comes first so others may use it.
BUILT_IN_FLOWS = Path(__file__).resolve().parent.parent / "flows"
#: Demo content loaded by `make run`: the six courses of the pilot.
DEMO = Path(__file__).resolve().parent.parent / "demo"


@click.command("migrate")
@with_appcontext
def migrate_command() -> None:
    """Bring the database schema up to date."""
    upgrade(str(runtime().engine.url.render_as_string(hide_password=False)))
    click.echo("database is up to date")


@click.command("import-survey")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_survey_command(path: Path) -> None:
    """Import an XLSForm (.xlsx, .xls, .csv or .md); a changed form becomes a new version."""
    _import(path)


@click.command("load-demo")
@with_appcontext
def load_demo_command() -> None:
    """Import the built-in forms in flows/ (the profile first), the demo courses and workshops."""
    paths = sorted(BUILT_IN_FLOWS.glob("*.md"), key=lambda p: (p.stem != "profile", p.name))
    for path in paths:
        _import(path)
    _import_courses(DEMO / "courses.csv")
    rt = runtime()
    with (DEMO / "workshops.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    with rt.db.begin() as session:
        count = save_demo_workshops(session, rows, rt.clock(), rt.tz)
    click.echo(f"{count} demo workshops added")


def _import(path: Path) -> None:
    rt = runtime()
    try:
        with rt.db.begin() as session:
            version, created = import_survey(session, rt.library, path, rt.clock())
            summary = f"{version.form_id} revision {version.revision} (keyword '{version.keyword}')"
    except FormError as error:
        raise click.ClickException(f"{path.name} was refused: {error}") from None
    click.echo(f"imported {summary}" if created else f"unchanged: {summary}")


@click.command("import-courses")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_courses_command(path: Path) -> None:
    """Add or update courses from a CSV (code, kind, groups, focus, title_th, title_en, ...)."""
    _import_courses(path)


def _import_courses(path: Path) -> None:
    rt = runtime()
    with path.open(encoding="utf-8-sig", newline="") as file:
        try:
            with rt.db.begin() as session:
                count = save_courses(session, csv.DictReader(file))
        except ValueError as error:
            raise click.ClickException(f"{path.name} was refused: {error}") from None
    click.echo(f"{count} courses up to date")


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Deliver due messages (nudges, replies, reminders) until stopped."""
    rt = runtime()
    worker.run(rt, rt.clock)


def init_app(app: Flask) -> None:
    """Register the commands on the app."""
    for command in (
        migrate_command,
        import_survey_command,
        import_courses_command,
        load_demo_command,
        export_command,
        export_open_data_command,
        worker_command,
        workshops_group,
        broadcast_group,
    ):
        app.cli.add_command(command)
