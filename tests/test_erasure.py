""" "Delete my data" (PDPA): after one confirming tap, nothing about the person is left in the
database, its files or an export, their seat goes to the waitlist, and they come back a stranger.
Another respondent's data is untouched. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from bot.delivery import deliver
from storage.models import Base, Erasure, Registration, Respondent
from tests.line_user import LineUser, text_of
from tests.test_reminders import add_workshop, take_seat

#: What the person to be erased types: unique, so it can be searched for anywhere.
UNIQUE = "ม้าของฉันชื่อเจ้าแสงจันทร์ 7f3a9c"


def walk_survey(user: LineUser, wish: str) -> None:
    """The livelihood survey from its keyword to the end, with `wish` as the free text."""
    user.say("สำรวจ")
    user.say("12")
    user.say("ข้าม")
    user.tap("เท่าเดิม")
    user.say("1, 3")
    user.say("300")
    user.tap("เคย")
    user.say(wish)
    user.tap("รับทราบ")


def everything(app) -> str:
    """Every row of every table, as text: where a person's data could hide in the database."""
    with app.extensions["runtime"].db() as session:
        return "\n".join(
            repr(row)
            for table in Base.metadata.sorted_tables
            for row in session.execute(select(table)).all()
        )


def test_delete_my_data_erases_everything_about_one_person_and_only_them(
    line_app, fake_line, clock, tmp_path
) -> None:
    """Answers, profile, consent, seat, reminders and the platform id go; B is untouched."""
    runtime = line_app.extensions["runtime"]
    erased = LineUser(line_app, fake_line, user_id="U" + "e" * 32)
    kept = LineUser(line_app, fake_line, user_id="U" + "k" * 32)
    for user in (erased, kept):
        user.onboard()
    walk_survey(erased, UNIQUE)
    walk_survey(kept, "อยากเรียนทำบัญชี")
    with runtime.db.begin() as session:  # one seat: the erased person has it, the other waits
        workshop = add_workshop(session, clock.now + timedelta(days=3))
        workshop.capacity = 1
        take_seat(session, workshop, erased.user_id, clock.now, channel="line")
        take_seat(session, workshop, kept.user_id, clock.now, channel="line", status="waitlisted")
    before = everything(line_app)
    assert UNIQUE in before and erased.user_id in before

    confirm = erased.say("ลบข้อมูลของฉัน")
    assert "ลบแล้วเอากลับคืนไม่ได้" in text_of(confirm)
    assert UNIQUE in everything(line_app), "nothing is erased before the confirming tap"
    done = erased.tap("ลบข้อมูลทั้งหมด")
    assert "ลบข้อมูลของคุณหมดแล้ว" in text_of(done)
    deliver(runtime, clock.now)

    after = everything(line_app)
    assert UNIQUE not in after
    assert erased.user_id not in after
    assert "อยากเรียนทำบัญชี" in after, "the other respondent's answers stay"
    with runtime.db() as session:
        assert session.scalar(select(func.count()).select_from(Respondent)) == 1
        (seat,) = session.scalars(select(Registration)).all()
        assert seat.status == "registered", "the waitlist moved up"
        (erasure,) = session.scalars(select(Erasure)).all()
        assert erasure.channel == "line" and erasure.rows["answer"] >= 8
        assert erasure.rows["respondent"] == 1
    assert "ได้ที่นั่งแล้ว" in text_of(fake_line.messages_to(kept.user_id)[-3:]) or any(
        "ที่นั่ง" in m.get("text", "") for m in fake_line.messages_to(kept.user_id)[-3:]
    )

    out = tmp_path / "answers.csv"
    result = line_app.test_cli_runner().invoke(
        args=["export", "--out", str(out), "--survey", "livelihood", "--layout", "long"]
    )
    assert result.exit_code == 0, result.output
    exported = out.read_text(encoding="utf-8-sig")
    assert UNIQUE not in exported and erased.user_id not in exported
    assert "อยากเรียนทำบัญชี" in exported

    if runtime.engine.dialect.name == "sqlite":  # the files themselves, free pages and WAL too
        database = Path(runtime.engine.url.database)
        for path in database.parent.glob(database.name + "*"):
            raw = path.read_bytes()
            assert UNIQUE.encode() not in raw, path.name
            assert erased.user_id.encode() not in raw, path.name


def test_after_erasure_the_person_is_a_stranger_who_is_asked_for_consent(
    line_app, fake_line
) -> None:
    """Writing again after an erasure: greeted and asked for consent, as on the first day."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("delete my data")
    user.tap("ลบข้อมูลทั้งหมด")
    again = user.say("สวัสดี")
    assert "สวัสดีค่ะ" in text_of(again)
    assert user.quick_replies() == ["ยินยอม", "ไม่ยินยอม"]
    user.tap("ยินยอม")
    assert "คุณทำงานด้านไหนคะ" in text_of(fake_line.messages_to(user.user_id)[-2:])


def test_keeping_the_data_erases_nothing(line_app, fake_line) -> None:
    """ "ไม่ลบ" keeps every row, and the chat carries on."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    before = everything(line_app)
    user.say("ลบข้อมูลของฉัน")
    kept = user.tap("ไม่ลบ เก็บไว้")
    assert "ข้อมูลของคุณยังอยู่เหมือนเดิม" in text_of(kept)
    with line_app.extensions["runtime"].db() as session:
        assert session.scalar(select(func.count()).select_from(Erasure)) == 0
        assert session.execute(text("SELECT count(*) FROM respondent")).scalar() == 1
    assert len(everything(line_app)) >= len(before)


def test_withdrawn_consent_stops_reminders_and_nudges_and_can_be_given_again(
    line_app, fake_line, clock
) -> None:
    """After "ถอนความยินยอม" and its confirmation nothing unasked is sent (a due reminder is
    dropped, no nudge is kept), erasure is offered, and consenting again works."""
    runtime = line_app.extensions["runtime"]
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("สำรวจ")  # mid-survey: a nudge is scheduled for tomorrow
    with runtime.db.begin() as session:
        workshop = add_workshop(session, clock.now + timedelta(hours=3), [{"hours_before": 2}])
        take_seat(session, workshop, user.user_id, clock.now, channel="line")
    user.say("ถอนความยินยอม")
    done = user.tap("ถอนความยินยอม")
    assert "ถอนความยินยอมแล้ว" in text_of(done)
    assert user.quick_replies() == ["ลบข้อมูลทั้งหมด"], "erasure is offered"
    before = len(fake_line.messages_to(user.user_id))
    clock.advance(hours=26)  # past the reminder's and the nudge's time
    deliver(runtime, clock.now)
    assert len(fake_line.messages_to(user.user_id)) == before, "nothing sent unasked"
    with runtime.db() as session:
        statuses = dict(
            session.execute(
                text("SELECT kind, status FROM outbox_message WHERE kind != 'reply'")
            ).all()
        )
    assert statuses.get("reminder") == "dropped"
    assert "nudge" not in statuses or statuses["nudge"] == "dropped"
    again = user.say("สวัสดี")
    assert "คุณยินยอมให้เราเก็บคำตอบไหมคะ" in text_of(again)
    user.tap("ยินยอม")
    with runtime.db() as session:
        assert session.scalars(select(Respondent.consent_withdrawn)).one() is False


def test_my_data_shows_what_is_stored_with_buddhist_era_dates(line_app, fake_line, clock) -> None:
    """ "ข้อมูลของฉัน" lists the profile, the surveys taken with dates, the registrations and
    when consent was given to which wording; "แก้ข้อมูลส่วนตัว" asks the profile again."""
    runtime = line_app.extensions["runtime"]
    user = LineUser(line_app, fake_line)
    user.onboard()
    walk_survey(user, "ข้าม")
    with runtime.db.begin() as session:
        workshop = add_workshop(session, clock.now + timedelta(days=3))
        take_seat(session, workshop, user.user_id, clock.now, channel="line")
    shown = text_of(user.say("ข้อมูลของฉัน"))
    assert "คนขับรถม้า · เทศบาลนครลำปาง" in shown
    assert "แบบสำรวจอาชีพและรายได้" in shown and "2569" in shown, "dates in the Buddhist Era"
    assert "ขนมพื้นบ้านลำปาง" in shown, "the registration"
    assert "ให้ความยินยอมเมื่อ" in shown and "2026-12-v2" in shown
    asked = text_of(user.say("แก้ข้อมูลส่วนตัว"))
    assert "คุณทำงานด้านไหนคะ" in asked


def test_no_log_line_carries_a_platform_id_or_an_answer(line_app, fake_line, caplog) -> None:
    """Logs are read by more people than the data: they name nobody and repeat no answer."""
    caplog.set_level("DEBUG")
    user = LineUser(line_app, fake_line, user_id="U" + "d" * 32)
    user.onboard()
    walk_survey(user, UNIQUE)
    user.say("ลบข้อมูลของฉัน")
    user.tap("ลบข้อมูลทั้งหมด")
    logged = "\n".join(repr(vars(record)) for record in caplog.records)
    assert "turn" in logged and "erasure" in logged, "the logs were captured"
    assert user.user_id not in logged
    assert UNIQUE not in logged
