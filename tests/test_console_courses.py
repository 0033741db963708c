"""Courses and workshops made and changed from the console: a new course, a new workshop open
for sign-up, more seats going to the waitlist (who hear of it), a new place told to everyone, and
what cannot be (fewer seats than are taken, sign-up closing after the start)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import AuditEntry, Course, OutboxMessage, Registration, Respondent, Workshop
from storage.workshops import register
from tests.console_user import ConsoleUser, add_account
from tests.test_console_access import COORDINATOR

LOCAL = "%Y-%m-%dT%H:%M"


def signed_in_coordinator(app) -> ConsoleUser:
    """A coordinator signed in to the console."""
    add_account(app, COORDINATOR, "coordinator")
    user = ConsoleUser(app)
    user.sign_in(COORDINATOR)
    return user


def people_at(app, clock, workshop_id: int, count: int) -> list[int]:
    """`count` carriage drivers asking for a seat at the workshop, in turn: their registrations."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        ids = []
        for n in range(count):
            person = Respondent(
                channel="line",
                channel_user_id=f"U{n:032d}",
                profile={"group": "carriage"},
                created_at=clock.now,
            )
            session.add(person)
            session.flush()
            ids.append(register(session, workshop_id, person.id, clock.now).registration_id)
        return ids


def test_a_coordinator_adds_a_course_and_opens_a_workshop_of_it(app, clock) -> None:
    """The course form takes groups and characteristics as checkboxes; the workshop form opens
    a dated session that respondents can sign up for; both are audited."""
    user = signed_in_coordinator(app)
    user.get("/console/courses/new")
    assert "คนขับรถม้า" in user.text() and "ทัศนคติ" in user.text()
    course = {
        "code": "rooster-bowls",
        "kind": "upskill",
        "groups": ["carriage", "entrepreneur"],
        "focus": ["c4"],
        "title_th": "ลวดลายชามไก่สู่ของที่ระลึก",
        "title_en": "Rooster-bowl patterns for souvenirs",
        "description_th": "",
        "description_en": "",
    }
    assert user.post("/console/courses/new", course).status_code == 302
    user.get("/console/courses/new")
    again = user.post("/console/courses/new", course)  # the same code twice
    assert again.status_code == 200 and "มีหลักสูตรรหัสนี้อยู่แล้ว" in user.text()
    runtime = app.extensions["runtime"]
    with runtime.db() as session:
        made = session.scalars(select(Course).where(Course.code == "rooster-bowls")).one()
        assert made.groups == ["carriage", "entrepreneur"] and made.focus == ["c4"]
    user.get("/console/workshops/new")
    starts = (clock.now + timedelta(days=10)).astimezone(runtime.tz).replace(hour=9, minute=0)
    workshop = {
        "course": str(made.id),
        "starts": starts.strftime(LOCAL),
        "ends": (starts + timedelta(hours=3)).strftime(LOCAL),
        "venue": "ศูนย์ชามไก่ ถนนวังโป่ง",
        "map_url": "",
        "capacity": "12",
        "deadline": (starts - timedelta(days=1)).strftime(LOCAL),
        "checkin_code": "ชามไก่",
    }
    answer = user.post("/console/workshops/new", workshop)
    assert answer.status_code == 302
    user.get(answer.location)
    assert "ลวดลายชามไก่สู่ของที่ระลึก" in user.text() and "0/12" in user.text()
    with runtime.db() as session:
        opened = session.scalars(select(Workshop).where(Workshop.course_id == made.id)).one()
        assert opened.starts_at == starts and opened.status == "open"
        assert opened.registration_deadline == starts - timedelta(days=1)
        assert opened.reminders  # the default reminders, as for every workshop
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"course.saved", "workshop.added"} <= actions
    # a workshop whose sign-up closes after it starts is refused, and nothing is added
    user.get("/console/workshops/new")
    late = workshop | {"deadline": (starts + timedelta(hours=1)).strftime(LOCAL)}
    assert user.post("/console/workshops/new", late).status_code == 200
    assert "วันปิดรับสมัครต้องไม่เลยเวลาเริ่มอบรม" in user.text()
    with runtime.db() as session:
        assert (
            len(session.scalars(select(Workshop).where(Workshop.course_id == made.id)).all()) == 1
        )


def test_more_seats_go_to_the_waitlist_in_order_and_they_hear_of_it(app, clock) -> None:
    """A workshop of 2 seats with 2 waiting: raising it to 3 seats the first waiting (who gets
    the good news and reminders), not the second; fewer seats than taken is refused."""
    user = signed_in_coordinator(app)
    runtime = app.extensions["runtime"]
    with runtime.db() as session:
        workshop = session.scalars(select(Workshop).where(Workshop.capacity == 2)).first()
        details = {
            "venue": workshop.venue,
            "map_url": workshop.map_url,
            "deadline": workshop.registration_deadline.astimezone(runtime.tz).strftime(LOCAL),
            "checkin_code": workshop.checkin_code,
        }
    ids = people_at(app, clock, workshop.id, 4)
    user.get(f"/console/workshops/{workshop.id}")
    assert user.post(f"/console/workshops/{workshop.id}/details", details | {"capacity": "3"})
    user.get(f"/console/workshops/{workshop.id}")
    assert "ได้ที่นั่งจากรายชื่อสำรอง 1 คน" in user.text()
    with runtime.db() as session:
        status = {r.id: r.status for r in session.scalars(select(Registration))}
        assert [status[i] for i in ids] == ["registered", "registered", "registered", "waitlisted"]
        third = session.get(Registration, ids[2])
        told = session.scalars(
            select(OutboxMessage).where(OutboxMessage.respondent_id == third.respondent_id)
        ).all()
        assert {row.kind for row in told} == {"notice", "reminder"}
        assert "มีที่ว่างแล้ว" in next(r for r in told if r.kind == "notice").payload["text"]
        assert session.get(Workshop, workshop.id).status == "full"
    user.post(f"/console/workshops/{workshop.id}/details", details | {"capacity": "2"})
    user.get(f"/console/workshops/{workshop.id}")
    assert "มีผู้ได้ที่นั่งแล้ว 3 คน" in user.text()
    with runtime.db() as session:
        assert session.get(Workshop, workshop.id).capacity == 3


def test_a_new_place_is_told_to_every_registrant_and_their_reminders_say_it(app, clock) -> None:
    """Moving a workshop to another venue tells those seated and waiting; the reminders still
    to go name the new place."""
    user = signed_in_coordinator(app)
    runtime = app.extensions["runtime"]
    with runtime.db() as session:
        workshop = session.scalars(select(Workshop).where(Workshop.capacity == 2)).first()
        deadline = workshop.registration_deadline.astimezone(runtime.tz).strftime(LOCAL)
    people_at(app, clock, workshop.id, 3)
    user.get(f"/console/workshops/{workshop.id}")
    moved = {
        "venue": "หอประชุมเทศบาลนครลำปาง",
        "map_url": "",
        "capacity": "2",
        "deadline": deadline,
        "checkin_code": "",
    }
    user.post(f"/console/workshops/{workshop.id}/details", moved)
    user.get(f"/console/workshops/{workshop.id}")
    assert "แจ้งสถานที่ใหม่ 3 คน" in user.text()
    with runtime.db() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        by_kind: dict[str, list[str]] = {}
        for row in rows:
            by_kind.setdefault(row.kind, []).append(row.payload["text"])
    assert len(by_kind["notice"]) == 3
    assert all("แจ้งเปลี่ยนสถานที่" in text for text in by_kind["notice"])
    assert by_kind["reminder"] and all("หอประชุมเทศบาลนครลำปาง" in t for t in by_kind["reminder"])


def test_mistyped_numbers_and_years_get_thai_answers_not_errors(app, clock) -> None:
    """Year 0001 or 9999, no seats, letters for seats, a huge page number: each is refused in
    Thai (or taken as the last page), and nothing is stored."""
    user = signed_in_coordinator(app)
    runtime = app.extensions["runtime"]
    with runtime.db() as session:
        course_id = session.scalars(select(Course.id)).first()
        workshops_before = len(session.scalars(select(Workshop)).all())
    starts = (clock.now + timedelta(days=10)).astimezone(runtime.tz)
    good = {
        "course": str(course_id),
        "starts": starts.strftime(LOCAL),
        "ends": (starts + timedelta(hours=2)).strftime(LOCAL),
        "venue": "ลานวัด",
        "map_url": "",
        "capacity": "10",
        "deadline": starts.strftime(LOCAL),
        "checkin_code": "",
    }
    cases = [
        ({"deadline": "0001-01-01T00:00"}, "วันเวลาไม่ถูกต้อง"),
        ({"capacity": "0"}, "จำนวนที่นั่งต้องอยู่ระหว่าง 1 ถึง 10000"),
        ({"capacity": "สิบ"}, "ใส่เป็นตัวเลข"),
        ({"course": "999999"}, "เลือกจากรายการที่มี"),
        ({"venue": "ล" * 301}, "ยาวเกินไป ไม่เกิน 300 ตัวอักษร"),
        (
            {
                "starts": "9999-12-31T20:00",
                "ends": "9999-12-31T22:00",
                "deadline": "9999-12-30T20:00",
            },
            "วันเวลาไม่ถูกต้อง",
        ),
        (
            {
                "starts": (starts + timedelta(days=800)).strftime(LOCAL),
                "ends": (starts + timedelta(days=800, hours=2)).strftime(LOCAL),
                "deadline": (starts + timedelta(days=799)).strftime(LOCAL),
            },
            "วันอบรมต้องไม่เกิน 2 ปีจากวันนี้",
        ),
    ]
    for change, said in cases:
        user.get("/console/workshops/new")
        answer = user.post("/console/workshops/new", good | change)
        assert answer.status_code == 200 and said in user.text(), change
        assert "Not a valid" not in user.text() and "This field" not in user.text()
    with runtime.db() as session:
        assert len(session.scalars(select(Workshop)).all()) == workshops_before
    assert user.get("/console/respondents?page=99999999999999999999").status_code == 200
    researcher_page = ConsoleUser(app)
    add_account(app, "r@example.org", "researcher")
    researcher_page.sign_in("r@example.org")
    refused = researcher_page.get("/console/courses")
    assert refused.status_code == 403 and "หน้านี้สำหรับบทบาทอื่น" in researcher_page.text()
