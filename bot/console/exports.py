"""The console's exports (researchers and admins): a survey's answers as CSV, XLSX or SPSS, its
codebook and its reliability, with the same filters as `flask export`, and the open data; each
one audited."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from tempfile import TemporaryDirectory

from flask import Response, abort, current_app, flash, render_template, send_file
from flask_babel import gettext as _

from bot.console.accounts import allowed, audit_here
from bot.console.blueprint import blueprint
from bot.console.downloads import download
from bot.console.forms import ActionForm, ExportForm
from bot.console.labels import profile_choices, survey_titles
from bot.console.roles import EXPORTS
from bot.export_writers import codebook_table, write_table_csv
from bot.exports import (
    EXPORTED,
    Exported,
    export_entry,
    export_file,
    pseudonym_key,
    survey_codebook,
)
from bot.open_data import OPEN_DATA, write_open_data
from bot.runtime import runtime
from storage.export_rows import ExportFilter, NothingToExport

#: Each download's file: its extension and its type.
FILES = {
    "csv": ("csv", "text/csv; charset=utf-8"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "sav": ("sav", "application/x-spss-sav"),
    "codebook": ("csv", "text/csv; charset=utf-8"),
    "reliability": ("csv", "text/csv; charset=utf-8"),
}
#: The downloads that are a table about the survey rather than its rows.
TABLES = ("codebook", "reliability")


@blueprint.route("/exports", methods=["GET", "POST"])
@allowed(*EXPORTS)
def exports_page() -> str | Response:
    """Choose a survey, a file and the filters; the file downloads, or the page says why not."""
    rt = runtime()
    form = ExportForm()
    with rt.read_db() as db:
        form.survey.choices = survey_titles(db)
        form.groups.choices = profile_choices(db, "group")
        form.municipalities.choices = profile_choices(db, "municipality")
    form.channel.choices = [("", _("console.respondents.any"))] + [
        (name, _(f"console.channel.{name}")) for name in ("line", "telegram", "assisted")
    ]
    if not form.validate_on_submit():
        return render_template("console/exports.html", form=form)
    wanted = ExportFilter(
        form.survey.data,
        since=_start_of(form.since.data, rt.tz),
        until=_start_of(form.until.data, rt.tz),
        groups=tuple(form.groups.data or ()),
        municipalities=tuple(form.municipalities.data or ()),
        channels=(form.channel.data,) if form.channel.data else (),
        completed_only=not form.partial.data,
        include_test_data=form.include_test_data.data,
    )
    fmt, layout = form.format.data, form.layout.data
    extension, mimetype = FILES[fmt]
    folder = TemporaryDirectory(prefix="export-")
    path = Path(folder.name) / f"{wanted.form_id}-{fmt if fmt in TABLES else layout}.{extension}"
    try:
        with rt.read_db() as db:
            if fmt == "codebook":
                done = Exported(0, survey_codebook(db, rt.library, wanted.form_id), [])
            else:
                # the reliability is tallied as the rows go by: they go to a scratch file
                data = Path(folder.name) / "data.csv" if fmt in TABLES else path
                done = export_file(
                    db,
                    rt.library,
                    data,
                    "csv" if fmt in TABLES else fmt,
                    wanted,
                    layout="wide" if fmt in TABLES else layout,
                    tz=rt.tz,
                    key=pseudonym_key(current_app.config),
                    reliability=fmt == "reliability",
                )
    except NothingToExport:
        folder.cleanup()
        flash(_("console.exports.nothing"), "error")
        return render_template("console/exports.html", form=form)
    if fmt in TABLES:
        table = codebook_table(done.variables) if fmt == "codebook" else done.reliability
        with path.open("w", newline="", encoding="utf-8") as file:
            write_table_csv(file, table)
    with rt.db.begin() as db:
        audit_here(db, EXPORTED, **export_entry(wanted, fmt, layout, done.rows))
    # open before the folder goes: the download reads the file from its handle
    handle = path.open("rb")
    folder.cleanup()
    return send_file(handle, mimetype=mimetype, as_attachment=True, download_name=path.name)


def _start_of(day: date | None, tz) -> datetime | None:
    """Midnight of the day in Lampang, for a date filter."""
    return datetime.combine(day, time(), tzinfo=tz) if day else None


@blueprint.post("/exports/open-data")
@allowed(*EXPORTS)
def open_data_download() -> Response:
    """The open data (aggregate tables and datapackage.json) as one ZIP, audited."""
    rt = runtime()
    if not ActionForm().validate_on_submit():
        abort(400)
    with TemporaryDirectory(prefix="open-data-") as folder:
        tables = Path(folder) / "open-data"
        with rt.read_db() as db:
            published = write_open_data(db, rt.library, tables)
        archive = io.BytesIO()  # a few small tables: kept in memory
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(tables.iterdir()):
                zipped.write(path, f"open-data/{path.name}")
    with rt.db.begin() as db:
        audit_here(db, OPEN_DATA, target="open-data", tables=published)
    return download(archive.getvalue(), "application/zip", "open-data.zip")
