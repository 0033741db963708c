"""Workshops in the chat, end to end in the simulator: browse, register, waitlist, cancel and
promote, reminders, check-in, feedback, and the way in from the results card."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.coordinators import invite_to_feedback
from bot.delivery import deliver
from storage.models import Feedback, OutboxMessage, Registration, Workshop
from tests.chat import Respondent, listed_numbers, texts, workshop_button

BANGKOK = ZoneInfo("Asia/Bangkok")
MARKETING = "การพัฒนาผู้ประกอบการสร้างสรรค์ด้านการตลาดบนสื่อออนไลน์และโซเชียลมีเดีย"


def driver(client) -> Respondent:
    """A carriage driver who has consented and given a profile."""
    person = Respondent(client)
    person.onboard()
    return person


def open_marketing(person: Respondent) -> list[dict]:
    """Open the workshop list and the online-marketing workshop (2 seats) in it."""
    listed = person.say("อบรม")
    assert "รอบอบรมที่กำลังจะมาถึง" in texts(listed)
    return person.tap(workshop_button(person, listed, MARKETING))


def marketing_workshop(app) -> Workshop:
    """The demo's two-seat workshop."""
    with app.extensions["runtime"].db() as session:
        return session.scalars(select(Workshop).where(Workshop.capacity == 2)).one()


def run_worker(app, clock) -> None:
    """One round of the worker at the test clock's time: deliveries and feedback invitations."""
    runtime = app.extensions["runtime"]
    invite_to_feedback(runtime, clock.now)
    deliver(runtime, clock.now)


def test_register_waitlist_cancel_promote_remind_check_in_and_feedback(app, client, clock) -> None:
    """The whole life of a workshop seat, as three carriage drivers see it."""
    first, second, third = (driver(client) for _ in range(3))
    details = open_marketing(first)
    assert "ยังว่าง 2 ที่" in texts(details)
    done = first.tap("ลงทะเบียน")
    assert "ลงทะเบียนเรียบร้อย" in texts(done)
    calendar = next(w for w in texts(done).split() if w.endswith(".ics"))
    ics = client.get(calendar.replace("http://127.0.0.1:5000", ""))
    assert ics.status_code == 200 and b"BEGIN:VEVENT" in ics.data
    open_marketing(second)
    second.tap("ลงทะเบียน")
    assert "เต็มแล้ว" in texts(open_marketing(third))
    assert "คิวสำรองลำดับที่ 1" in texts(third.tap("ต่อคิวสำรอง"))
    open_marketing(first)
    assert "ลงทะเบียนรอบนี้ไว้แล้ว" in texts(first.tap("ต่อคิวสำรอง"))

    mine = first.say("การลงทะเบียนของฉัน")
    assert MARKETING in texts(mine)
    asked = texts(first.tap("ยกเลิกรอบที่ 1"))
    assert "ใช่ไหมคะ" in asked and "2569" in asked, "asks first, naming the workshop's date"
    done = texts(first.tap("ยืนยันยกเลิก"))
    assert "ให้แล้วค่ะ" in done and "2569" in done and "อบรม" in done
    assert "ข่าวดีค่ะ" in texts(third.replies())  # promoted at once, and told

    workshop = marketing_workshop(app)
    starts = workshop.starts_at.astimezone(BANGKOK)
    clock.now = (starts - timedelta(days=1)).replace(hour=9, minute=0).astimezone(UTC)
    run_worker(app, clock)
    assert "พรุ่งนี้มีอบรม" in texts(second.replies())
    assert "พรุ่งนี้มีอบรม" in texts(third.replies())
    assert first.replies() == []  # cancelled: no reminder
    clock.now = (starts - timedelta(hours=2)).astimezone(UTC)
    run_worker(app, clock)
    assert "อีกไม่นานจะเริ่มอบรม" in texts(second.replies())
    assert "อีกไม่นานจะเริ่มอบรม" in texts(third.replies())

    clock.now = starts.astimezone(UTC) + timedelta(minutes=10)
    assert "เช็กอินเรียบร้อย" in texts(second.say(" กองต้า "))
    clock.now = workshop.ends_at + timedelta(hours=1, minutes=1)
    run_worker(app, clock)
    asked = second.replies()
    assert "ให้คะแนนการอบรมครั้งนี้" in texts(asked)
    assert third.replies() == []  # did not come: not asked
    second.tap("5")
    thanks = second.say("อยากให้มีรอบค่ำด้วย")
    assert "ขอบคุณมากค่ะ" in texts(thanks)
    assert [b["label"] for b in thanks[-1]["buttons"]] == ["ทำแบบประเมิน"]
    with app.extensions["runtime"].db() as session:
        feedback = session.scalars(select(Feedback)).one()
        assert (feedback.rating, feedback.comment) == (5, "อยากให้มีรอบค่ำด้วย")
        statuses = dict(
            session.execute(select(Registration.respondent_id, Registration.status)).all()
        )
        assert sorted(statuses.values()) == ["attended", "cancelled", "registered"]
    run_worker(app, clock)
    assert second.replies() == []  # asked once only


def test_the_results_card_leads_straight_to_the_courses_dates(app, client) -> None:
    """After the assessment, tapping a recommended course shows its workshops to sign up for."""
    person = driver(client)
    person.say("ประเมิน")
    replies = person.replies()
    while not any("card" in message for message in replies):
        replies = person.say("3")
    dates = person.tap("การพัฒนารูปแบบบริการของรถม้าลำปางสร้างสรรค์")
    assert "รอบอบรมที่กำลังจะมาถึง" in texts(dates)
    assert listed_numbers(dates, "รถม้า") == [1, 2]  # that course's two rounds only
    # Seen: both buttons read "1. การพัฒนารูปแบบบริการของรถม้..." — now the date and place.
    labels = [b["label"] for b in person.last_buttons]
    assert labels[0].startswith("1. ") and "ลานจอดรถม้า" in labels[0]
    assert labels[1].startswith("2. ") and "หอประชุม" in labels[1]
    assert labels[0].split()[1:3] != labels[1].split()[1:3]  # different days


def test_mid_survey_a_look_at_workshops_then_continue(app, client) -> None:
    """อบรม during a survey shows the workshops; ทำต่อ goes back to the same question."""
    person = driver(client)
    person.tap("สำรวจ (3 นาที)")
    person.say("12")
    assert "ทำต่อ" in texts(person.say("อบรม"))
    assert "เริ่มทำอาชีพนี้วันไหนคะ" in texts(person.say("ทำต่อ"))


def test_no_reminder_after_the_start_and_the_drop_is_recorded(app, client, clock) -> None:
    """After downtime past the start, the reminders are dropped, with the reason kept."""
    person = driver(client)
    open_marketing(person)
    person.tap("ลงทะเบียน")
    workshop = marketing_workshop(app)
    clock.now = workshop.starts_at + timedelta(minutes=5)
    run_worker(app, clock)
    assert "อบรม" not in texts(person.replies())
    with app.extensions["runtime"].db() as session:
        dropped = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "reminder")
        ).all()
        assert dropped and all(row.status == "dropped" and row.last_error for row in dropped)


def test_dates_in_the_workshop_list_are_buddhist_era(app, client, clock) -> None:
    """The list shows dates the Thai way: weekday, day, month and the year in พ.ศ."""
    person = driver(client)
    listed = texts(person.say("อบรม"))
    assert "ธ.ค. 2569" in listed  # the demo workshops fall in December 2026


def test_the_map_is_one_short_link_that_opens_the_venue(app, client) -> None:
    """Seen: the map link was six lines of percent-encoding. Now a short link to our own page."""
    details = texts(open_marketing(driver(client)))
    workshop = marketing_workshop(app)
    [line] = [line for line in details.splitlines() if line.startswith("แผนที่:")]
    link = line.removeprefix("แผนที่:").strip()
    assert link.endswith(f"/map/{workshop.id}") and len(link) < 60 and "%" not in link
    opened = client.get(f"/map/{workshop.id}")
    assert opened.status_code == 302 and opened.headers["Location"] == workshop.map_url
    assert client.get("/map/999999").status_code == 404
    with app.extensions["runtime"].db() as session:
        session.get(Workshop, workshop.id).map_url = "javascript:alert(1)"
        session.commit()
    assert client.get(f"/map/{workshop.id}").status_code == 404  # only web addresses are followed
