"""A workshop's attendance list to download: CSV (UTF-8 with BOM, so Excel shows Thai) or XLSX,
one row per registration in the page's order, with a column to tick at the door."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, abort
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from bot.console.accounts import allowed, audit_here
from bot.console.blueprint import blueprint
from bot.console.downloads import download, excel_csv
from bot.console.roles import RUNS_WORKSHOPS
from bot.console.sign_in import console_language
from bot.console.workshops import registrants
from bot.runtime import runtime
from bot.thai_dates import format_thai_datetime
from storage.models import Workshop

COLUMNS = ("number", "status", "group", "municipality", "channel", "registered_at", "signature")


@blueprint.get("/workshops/<int:workshop_id>/attendance.<any(csv, xlsx):kind>")
@allowed(*RUNS_WORKSHOPS)
def attendance_list(workshop_id: int, kind: str) -> Response:
    """The list as a file; every download is audited."""
    rt = runtime()
    with rt.db.begin() as db:
        if db.get(Workshop, workshop_id) is None:
            abort(404)
        people = registrants(db, workshop_id)
        audit_here(
            db,
            "attendance_list.downloaded",
            target=f"workshop:{workshop_id}",
            rows=len(people),
            format=kind,
        )
    header = [_(f"console.list.{column}") for column in COLUMNS]
    rows = [_row(person) for person in people]
    name = f"attendance-{workshop_id}.{kind}"
    if kind == "csv":
        return download(excel_csv(header, rows), "text/csv; charset=utf-8", name)
    return download(_xlsx(header, rows), XLSX, name)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _row(person: dict[str, Any]) -> list[Any]:
    """One registration's cells, in COLUMNS' order."""
    when = person["registered_at"].astimezone(runtime().tz)
    return [
        person["id"],
        _(f"console.status.{person['status']}"),
        person["group"],
        person["municipality"],
        person["channel"],
        format_thai_datetime(when, console_language()),
        "",
    ]


def _xlsx(header: list[str], rows: list[list[Any]]) -> bytes:
    """One sheet: a bold, frozen header, the number as a number, columns wide enough."""
    book = Workbook()
    sheet = book.active
    sheet.title = _("console.list.sheet")
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFG", (8, 14, 24, 28, 10, 30, 20), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
