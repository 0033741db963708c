"""`flask export`: a survey's answers for researchers, as CSV, XLSX or SPSS, with its codebook,
and the export written to the audit log (who ran it, with which filters, how many rows)."""

from __future__ import annotations

import getpass
import sys
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.export_writers import codebook_table, write_table_csv
from bot.exports import EXPORTED, FORMATS, export_entry, export_file, pseudonym_key
from bot.open_data import OPEN_DATA, write_open_data
from bot.runtime import runtime
from storage.export_rows import ExportFilter, NothingToExport, count_submissions
from storage.staff import audit
from storage.surveys import latest_versions


@click.command("export")
@with_appcontext
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--survey", "form_id", help="form_id of the survey (one export per survey)")
@click.option("--layout", type=click.Choice(["wide", "long"]), default="wide", show_default=True)
@click.option("--version", "versions", multiple=True, help="a form version (repeat for more)")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="started on or after (local)")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="started before (local)")
@click.option("--group", "groups", multiple=True, help="a pilot group (repeat for more)")
@click.option("--municipality", "municipalities", multiple=True, help="a municipality code")
@click.option("--round", "rounds", type=int, multiple=True, help="a round: 1, 2, …")
@click.option("--channel", "channels", multiple=True, help="line, telegram, assisted, web")
@click.option("--partial", is_flag=True, help="also the submissions not finished")
@click.option("--codebook", type=click.Path(dir_okay=False, path_type=Path), help="codebook CSV")
@click.option(
    "--reliability",
    type=click.Path(dir_okay=False, path_type=Path),
    help="reliability CSV (Cronbach's alpha per scale; a scored survey, wide layout)",
)
@click.option(
    "--include-test-data",
    is_flag=True,
    help="also export the web simulator's test respondents (left out by default)",
)
def export_command(
    fmt: str,
    out: Path,
    form_id: str | None,
    layout: str,
    versions: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    groups: tuple[str, ...],
    municipalities: tuple[str, ...],
    rounds: tuple[int, ...],
    channels: tuple[str, ...],
    partial: bool,
    codebook: Path | None,
    reliability: Path | None,
    include_test_data: bool,
) -> None:
    """Export a survey's answers: wide (a row per submission) or long (a row per answer)."""
    rt = runtime()
    with rt.read_db() as session:
        if not form_id:
            names = ", ".join(v.form_id for v in latest_versions(session))
            raise click.UsageError(f"choose the survey with --survey (one of: {names})")
        wanted = ExportFilter(
            form_id,
            versions=versions,
            since=since.replace(tzinfo=rt.tz) if since else None,
            until=until.replace(tzinfo=rt.tz) if until else None,
            groups=groups,
            municipalities=municipalities,
            rounds=rounds,
            channels=channels,
            completed_only=not partial,
            include_test_data=include_test_data,
        )
        try:
            total = count_submissions(session, wanted)
            with click.progressbar(length=total, label="submissions", file=sys.stderr) as bar:
                done = [0]

                def advance(now_done: int) -> None:
                    bar.update(now_done - done[0])
                    done[0] = now_done

                done_export = export_file(
                    session,
                    rt.library,
                    out,
                    fmt,
                    wanted,
                    layout=layout,
                    tz=rt.tz,
                    key=pseudonym_key(current_app.config),
                    progress=advance,
                    reliability=reliability is not None,
                )
        except NothingToExport as error:
            raise click.ClickException(str(error)) from None
    for path, table in (
        (codebook, codebook_table(done_export.variables)),
        (reliability, done_export.reliability),
    ):
        if path is not None:
            with path.open("w", newline="", encoding="utf-8") as file:
                write_table_csv(file, table)
    with rt.db.begin() as session:
        audit(
            session,
            f"cli:{getpass.getuser()}",
            EXPORTED,
            rt.clock(),
            **export_entry(wanted, fmt, layout, done_export.rows),
        )
    click.echo(f"wrote {done_export.rows} rows to {out}")


@click.command("export-open-data")
@with_appcontext
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def export_open_data_command(out: Path) -> None:
    """Write the open data: aggregate score tables (small cells withheld) and datapackage.json."""
    rt = runtime()
    with rt.read_db() as session:
        published = write_open_data(session, rt.library, out)
    with rt.db.begin() as session:
        audit(
            session,
            f"cli:{getpass.getuser()}",
            OPEN_DATA,
            rt.clock(),
            target=str(out),
            tables=published,
        )
    for table, rows in published.items():
        click.echo(f"{table}.csv: {rows} rows")
    click.echo(f"wrote {out / 'datapackage.json'}")
