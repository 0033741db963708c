"""The service through the simulator's API, on SQLite and PostgreSQL: what gets stored and said."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy import text as sql

from bot.service import Inbound
from storage.models import (
    Answer,
    ConsentRecord,
    Conversation,
    OutboxMessage,
    Submission,
    SurveyVersion,
)
from survey_flows.session import TextInput
from tests.chat import LIVELIHOOD_ANSWERS, Respondent, texts


def db(app):
    """A session on the app's database."""
    return app.extensions["runtime"].db()


def answers(app, question: str) -> list[Answer]:
    """Every stored answer to a question, oldest first."""
    with db(app) as session:
        return list(
            session.scalars(select(Answer).where(Answer.question == question).order_by(Answer.id))
        )


def test_consent_is_recorded_with_its_time_and_wording_version(app, client, clock) -> None:
    """Saying yes stores a consent record stamped with the wording version and the time."""
    person = Respondent(client)
    greeting = person.send(hello=True)
    assert "สวัสดีค่ะ" in texts(greeting)
    assert [b["label"] for b in person.last_buttons] == ["ยินยอม", "ไม่ยินยอม"]
    person.tap("ยินยอม")
    with db(app) as session:
        record = session.scalars(select(ConsentRecord)).one()
    assert record.given is True
    assert record.wording_version == "2026-12-v2"
    assert record.recorded_at == clock.now


def test_declining_ends_politely_and_stores_nothing_else(app, client) -> None:
    """A 'no' keeps only the fact of the refusal: no answers, no submissions, no profile."""
    person = Respondent(client)
    person.send(hello=True)
    reply = person.tap("ไม่ยินยอม")
    assert "ไม่เป็นไรค่ะ" in texts(reply)
    with db(app) as session:
        assert session.scalar(select(func.count()).select_from(Answer)) == 0
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
        assert [r.given for r in session.scalars(select(ConsentRecord))] == [False]


def test_a_full_survey_is_stored_with_raw_value_version_and_channel(app, client) -> None:
    """Every answer keeps what was typed or tapped, the stored value, its version and channel."""
    person = Respondent(client)
    person.onboard()
    first = person.tap("สำรวจ (3 นาที)")
    assert "ข้อ 1/" in texts(first)
    person.say("๑๒")
    person.say("1/6/2555")
    person.tap("น้อยลง")
    person.say("1, 3")
    person.say("350")
    person.tap("เคย")
    person.tap("ข้าม")
    done = person.tap("รับทราบ")
    assert "ขอบคุณมาก" in texts(done)
    [years] = answers(app, "years")
    assert (years.raw, years.value, years.channel, years.entered_by) == (
        "๑๒",
        12,
        "web",
        "respondent",
    )
    assert answers(app, "started")[-1].value == "2012-06-01"
    assert answers(app, "customers")[-1].value == ["thai", "locals"]
    assert answers(app, "income_week")[-1].value == 2450
    with db(app) as session:
        submission = session.scalars(
            select(Submission).join(SurveyVersion).where(SurveyVersion.form_id == "livelihood")
        ).one()
        assert submission.completed_at is not None
        assert years.survey_version_id == submission.survey_version_id


def at_the_customers_question(client) -> Respondent:
    """A respondent who has answered the livelihood survey up to "who are your customers?"."""
    person = Respondent(client)
    person.onboard()
    person.tap("สำรวจ (3 นาที)")
    person.say("12")
    person.say("ข้าม")
    person.tap("เท่าเดิม")
    return person


def test_tapping_several_choices_keeps_every_pick(app, client) -> None:
    """A multi-select answered by taps, one message each, stores all the picks."""
    person = at_the_customers_question(client)
    person.tap("นักท่องเที่ยวไทย")
    picked = person.tap("คนในพื้นที่")
    assert "เลือกไว้แล้ว: นักท่องเที่ยวไทย, คนในพื้นที่" in texts(picked)
    person.tap("เสร็จ")
    assert answers(app, "customers")[-1].value == ["thai", "locals"]


def test_coming_back_tomorrow_continues_at_the_same_question(app, client, clock) -> None:
    """Closing the chat loses nothing: a day later the next message answers the same question."""
    person = Respondent(client)
    person.onboard()
    person.tap("สำรวจ (3 นาที)")
    person.say("12")
    clock.advance(days=1)
    later = Respondent(client, person.token)  # a new tab: nothing remembered on the page side
    later.seen = person.seen
    reply = later.say("1/6/2555")
    assert "ศุกร์ 1 มิ.ย. 2555" in texts(reply)  # read back in the Buddhist Era
    assert "ข้อ 3/" in texts(reply)


def test_going_back_keeps_history_and_the_long_export_marks_the_changed(
    app, client, tmp_path: Path
) -> None:
    """Answering again adds a row; the long export has both, the first marked superseded."""
    person = Respondent(client)
    person.onboard()
    person.tap("สำรวจ (3 นาที)")
    person.say("12")
    person.say("ย้อนกลับ")
    person.say("15")
    assert [a.value for a in answers(app, "years")] == [12, 15]
    runner = app.test_cli_runner()
    out = tmp_path / "long.csv"
    result = runner.invoke(
        args=[
            "export",
            "--format",
            "csv",
            "--out",
            str(out),
            "--layout",
            "long",
            "--survey",
            "livelihood",
            "--partial",  # not finished yet
            "--include-test-data",  # the simulator's respondents are test data
        ]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    years = [(r["raw"], r["value"], r["superseded"]) for r in rows if r["question"] == "years"]
    assert years == [("12", "12", "1"), ("15", "15", "0")]
    assert {"question", "raw", "value", "answered_at"} <= rows[0].keys()


def test_wide_export_has_one_row_per_completed_submission(app, client, tmp_path: Path) -> None:
    """Wide layout: a row per finished survey, a column per question in form order."""
    for _ in range(2):
        person = Respondent(client)
        person.onboard()
        person.tap("สำรวจ (3 นาที)")
        for text in LIVELIHOOD_ANSWERS:
            person.say(text)
    unfinished = Respondent(client)
    unfinished.onboard()
    unfinished.tap("สำรวจ (3 นาที)")
    unfinished.say("3")
    out = tmp_path / "wide.csv"
    result = app.test_cli_runner().invoke(
        args=["export", "--out", str(out), "--survey", "livelihood", "--include-test-data"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 2
    header = list(rows[0])
    assert header.index("years") < header.index("busy_days") < header.index("customers")
    assert rows[0]["busy_days"] == "same"
    assert rows[0]["customers"] == "foreign"
    assert rows[0]["started"] == ""  # not relevant when years = 0


def test_a_changed_form_is_a_new_version_and_a_started_chat_finishes_on_the_old(
    app, client, tmp_path: Path
) -> None:
    """Importing an edited form adds a revision; whoever started keeps the version they started."""
    person = Respondent(client)
    person.onboard()
    person.tap("สำรวจ (3 นาที)")
    person.say("12")
    source = (Path(__file__).resolve().parent.parent / "flows/livelihood.md").read_text(
        encoding="utf-8"
    )
    edited = tmp_path / "livelihood.md"
    edited.write_text(source.replace("คุณทำอาชีพนี้มากี่ปีแล้วคะ", "ทำอาชีพนี้มากี่ปีแล้วคะ"), encoding="utf-8")
    runner = app.test_cli_runner()
    assert "revision 2" in runner.invoke(args=["import-survey", str(edited)]).output
    assert "unchanged" in runner.invoke(args=["import-survey", str(edited)]).output
    person.say("1/6/2555")
    with db(app) as session:
        revisions = dict(session.execute(select(SurveyVersion.id, SurveyVersion.revision)).all())
    assert {revisions[a.survey_version_id] for a in answers(app, "started")} == {1}
    newcomer = Respondent(client)
    newcomer.onboard()
    newcomer.tap("สำรวจ (3 นาที)")
    assert "ทำอาชีพนี้มากี่ปีแล้วคะ" in texts(newcomer.replies() or newcomer.say("ช่วยเหลือ"))
    newcomer.say("3")
    assert revisions[answers(app, "years")[-1].survey_version_id] == 2


def test_a_refused_import_says_where_and_changes_nothing(app, tmp_path: Path) -> None:
    """A broken form is refused with its row, and no version is stored."""
    bad = tmp_path / "bad.md"
    bad.write_text(
        "| survey |\n| | type | name | label |\n| | geopoint | where | Where |\n", encoding="utf-8"
    )
    with db(app) as session:
        before = session.scalar(select(func.count()).select_from(SurveyVersion))
    result = app.test_cli_runner().invoke(args=["import-survey", str(bad)])
    assert result.exit_code != 0
    assert "row 2" in result.output and "geopoint" in result.output
    with db(app) as session:
        assert session.scalar(select(func.count()).select_from(SurveyVersion)) == before


def test_a_redelivered_event_changes_nothing(app) -> None:
    """The same platform event id handled twice stores and sends nothing the second time."""
    runtime = app.extensions["runtime"]
    hello = Inbound("web", "redelivered", TextInput("สวัสดี"), event_id="evt-1")
    assert runtime.handle(hello) is not None
    assert runtime.handle(hello) is None
    with db(app) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_strange_messages_get_a_short_answer_and_lose_nothing(app, client) -> None:
    """Stickers, empty or 10,000-character text, emoji, stale taps: a reply, the same question."""
    person = Respondent(client)
    person.onboard()
    person.tap("สำรวจ (3 นาที)")
    person.say("12")
    stale = person.last_buttons
    person.say("1/6/2555")
    question = "ช่วงนี้คนซื้อหรือลูกค้าเป็นอย่างไรบ้างคะ"
    for body in (
        {"kind": "sticker"},
        {"text": ""},
        {"text": "ก" * 10_000},
        {"text": "🐴🐴"},
        {"data": "not ours"},
        {"data": '["years","_skip"]'},
    ):
        reply = person.send(**body)
        assert reply, body
        assert question in reply[-1]["text"], body
        assert all(len(message["text"]) < 1000 for message in reply)
    assert stale is not None
    assert [a.value for a in answers(app, "years")] == [12]
    assert answers(app, "busy_days") == []


def test_healthz_answers_when_the_database_does(client) -> None:
    """The health check is 200 with a working database."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_healthz_answers_at_once_while_a_turn_is_writing(app, client) -> None:
    """A load balancer's health check must not queue behind the writers (SQLite's lock)."""
    with app.extensions["runtime"].db.begin() as session:
        session.execute(sql("SELECT 1"))  # a write transaction is open, holding the lock
        started = time.monotonic()
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 5


def test_healthz_is_503_when_the_database_is_gone(tmp_path: Path, clock) -> None:
    """The health check tells a load balancer when the database is unreachable."""
    from bot import create_app

    app = create_app(
        {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none", "CLOCK": clock}
    )
    assert app.test_client().get("/healthz").status_code == 503


def test_an_answer_that_no_longer_applies_is_withdrawn(app, client, tmp_path: Path) -> None:
    """Going back and changing course drops answers to questions that are now skipped."""
    person = Respondent(client)
    person.onboard()
    person.tap("สำรวจ (3 นาที)")
    person.say("5")
    person.say("1/1/2560")
    person.say("ย้อนกลับ")
    person.say("ย้อนกลับ")
    person.say("0")
    assert [a.value for a in answers(app, "started")] == ["2017-01-01", None]


def test_too_many_picks_start_the_question_afresh(app, client) -> None:
    """Four picks where three are allowed: the limit is explained and every choice comes back."""
    person = at_the_customers_question(client)
    for label in ("นักท่องเที่ยวไทย", "นักท่องเที่ยวต่างชาติ", "คนในพื้นที่", "คณะดูงาน/โรงเรียน"):
        person.tap(label)
    refused = person.tap("เสร็จ")
    assert "เลือกได้ไม่เกิน 3 ข้อค่ะ" in texts(refused)
    assert len([b for b in person.last_buttons if b["label"] != "เสร็จ"]) == 4
    person.tap("คนในพื้นที่")
    person.tap("เสร็จ")
    assert answers(app, "customers")[-1].value == ["locals"]


def test_a_keyword_taken_by_another_survey_or_a_command_is_refused(app, tmp_path: Path) -> None:
    """Two surveys cannot share a keyword, and 'ช่วยเหลือ' cannot start a survey."""
    runner = app.test_cli_runner()
    for keyword, reason in (
        ("สำรวจ", "already starts survey 'livelihood'"),
        ("ช่วยเหลือ", "command"),
    ):
        form = tmp_path / "other.md"
        form.write_text(
            "| survey |\n| | type | name | label |\n| | text | t | T |\n"
            f"| settings |\n| | form_id | keyword |\n| | other | {keyword} |\n",
            encoding="utf-8",
        )
        result = runner.invoke(args=["import-survey", str(form)])
        assert result.exit_code != 0 and reason in result.output, result.output
