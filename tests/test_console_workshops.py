"""The console's workshop pages as a coordinator uses them: moving a workshop, and what the
registrants and the audit log then hold."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import AuditEntry, OutboxMessage, Workshop
from tests.console_user import ConsoleUser, add_account
from tests.test_console_access import COORDINATOR, seated

BANGKOK_FORMAT = "%Y-%m-%dT%H:%M"


def test_moving_a_workshop_tells_its_registrants_and_moves_their_reminders(app, clock) -> None:
    """A new time from the form (Lampang's local time): the registrant gets a notice, the
    reminders fall due by the new time, and the move is audited; an end before the start is
    refused with a clear message and moves nothing."""
    add_account(app, COORDINATOR, "coordinator")
    workshop_id, _ = seated(app, clock)
    runtime = app.extensions["runtime"]
    with runtime.db() as session:
        before = session.get(Workshop, workshop_id).starts_at
    new_start = (before + timedelta(days=2)).astimezone(runtime.tz)
    user = ConsoleUser(app)
    user.sign_in(COORDINATOR)
    user.get(f"/console/workshops/{workshop_id}")
    wrong = {
        "starts": new_start.strftime(BANGKOK_FORMAT),
        "ends": (new_start - timedelta(hours=1)).strftime(BANGKOK_FORMAT),
    }
    assert user.post(f"/console/workshops/{workshop_id}/reschedule", wrong).status_code == 302
    page = user.get(f"/console/workshops/{workshop_id}")
    assert "เวลาจบต้องหลังเวลาเริ่ม" in user.text() and page.status_code == 200
    right = {
        "starts": new_start.strftime(BANGKOK_FORMAT),
        "ends": (new_start + timedelta(hours=3)).strftime(BANGKOK_FORMAT),
    }
    assert user.post(f"/console/workshops/{workshop_id}/reschedule", right).status_code == 302
    user.get(f"/console/workshops/{workshop_id}")
    assert "แจ้งผู้ลงทะเบียน 1 คน" in user.text()
    with runtime.db() as session:
        moved = session.get(Workshop, workshop_id)
        assert moved.starts_at == new_start
        kinds = [
            row.kind for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
        assert "notice" in kinds
        due = [
            row.due_at
            for row in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "reminder", OutboxMessage.status == "pending"
                )
            )
        ]
        assert due and all(before < moment < moved.starts_at for moment in due)
        assert session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "workshop.rescheduled")
        ).one()


def test_the_attendance_list_downloads_as_csv_and_xlsx(app, clock) -> None:
    """CSV that Excel reads as Thai (UTF-8 with BOM) and XLSX with a frozen header and the
    number as a number, one row per registration; each download is audited, and a researcher
    gets none."""
    import csv
    import io

    from openpyxl import load_workbook

    add_account(app, COORDINATOR, "coordinator")
    add_account(app, "r@example.org", "researcher")
    workshop_id, registration_id = seated(app, clock)
    user = ConsoleUser(app)
    user.sign_in(COORDINATOR)
    answer = user.client.get(f"/console/workshops/{workshop_id}/attendance.csv")
    assert answer.status_code == 200 and answer.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["เลขที่", "สถานะ", "กลุ่ม"]
    assert rows[1][:3] == [str(registration_id), "ลงทะเบียนแล้ว", "คนขับรถม้า"] and "2569" in rows[1][5]
    book = load_workbook(
        io.BytesIO(user.client.get(f"/console/workshops/{workshop_id}/attendance.xlsx").data)
    )
    sheet = book.active
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet["A2"].value == registration_id and sheet["C2"].value == "คนขับรถม้า"
    with app.extensions["runtime"].db() as session:
        downloads = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "attendance_list.downloaded")
        ).all()
    assert [entry.detail["format"] for entry in downloads] == ["csv", "xlsx"]
    researcher = ConsoleUser(app)
    researcher.sign_in("r@example.org")
    assert (
        researcher.client.get(f"/console/workshops/{workshop_id}/attendance.csv").status_code == 403
    )
