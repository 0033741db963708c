"""Assisted interviews: a coordinator answers for someone without a smartphone, and the record
says so (consent and every answer entered by the coordinator); later a one-time code moves it all
onto the respondent's own phone, where the survey carries on from the same question."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.hand_over import HAND_OVER_WORD, hand_over_code
from bot.service import Inbound, StartSurvey
from storage.models import (
    Answer,
    AuditEntry,
    ConsentRecord,
    Conversation,
    OutboxMessage,
    Respondent,
    Submission,
)
from survey_flows.session import TextInput
from tests.console_user import ConsoleUser, add_account
from tests.test_console_access import COORDINATOR

PHONE = "U" + "p" * 32


class Interview:
    """A coordinator's interview page, as they use it: tap a button by its label, or type."""

    def __init__(self, app):
        add_account(app, COORDINATOR, "coordinator")
        self.user = ConsoleUser(app)
        self.user.sign_in(COORDINATOR)
        self.user.get("/console/interviews")
        started = self.user.post("/console/interviews")
        assert started.status_code == 302
        self.path = started.location.split("#")[0]
        self.respondent_id = int(self.path.rsplit("/", 1)[1])
        self.user.get(self.path)

    def last_message(self) -> str:
        """The newest message of the interview, as the page shows it."""
        return re.findall(r"<li(?: id=\"latest\")?>(.*?)</li>", self.user.text(), re.S)[-1]

    def buttons(self) -> dict[str, str]:
        """The current question's buttons: label → what the button sends."""
        return {
            label: value
            for value, label in re.findall(
                r'name="button" value="([^"]+)">([^<]+)<', self.user.text()
            )
        }

    def turn(self) -> str:
        return re.search(r'name="turn" type="hidden" value="([0-9a-f]+)"', self.user.text()).group(
            1
        )

    def tap(self, label: str) -> None:
        """Tap the button the respondent chose."""
        answer = {"button": self.buttons()[label], "turn": self.turn()}
        assert self.user.post(f"{self.path}/answer", answer).status_code == 302
        self.user.get(self.path)

    def type(self, text: str) -> None:
        """Type what the respondent said."""
        assert self.user.post(f"{self.path}/answer", {"text": text, "turn": self.turn()})
        self.user.get(self.path)

    def code(self) -> str:
        """Make the one-time code that hands the interview over; the text the phone sends."""
        made = self.user.post(f"{self.path}/hand-over")
        assert made.status_code == 302
        self.user.get(made.location)
        return re.search(r'id="hand-over-text">([^<]+)<', self.user.text()).group(1)


def test_consent_and_answers_are_recorded_as_entered_by_the_coordinator(app) -> None:
    """The interview asks consent first; the coordinator's taps record consent and answers with
    their email as who entered them, on the assisted channel; the start is audited."""
    interview = Interview(app)
    assert "ยินยอม" in interview.buttons()
    interview.tap("ยินยอม")
    assert "คุณทำงานด้านไหนคะ" in interview.last_message()
    interview.tap("คนขับรถม้า")
    interview.tap("เทศบาลนครลำปาง")
    with app.extensions["runtime"].db() as session:
        consent = session.scalars(select(ConsentRecord)).one()
        answers = session.scalars(select(Answer).order_by(Answer.id)).all()
        person = session.get(Respondent, interview.respondent_id)
        started = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "interview.started")
        ).one()
    assert consent.given and consent.entered_by == COORDINATOR and consent.channel == "assisted"
    assert [(a.question, a.value) for a in answers] == [
        ("group", "carriage"),
        ("municipality", "nakhon"),
    ]
    assert {a.entered_by for a in answers} == {COORDINATOR}
    assert person.profile["group"] == "carriage" and not person.is_test
    assert started.actor == COORDINATOR and started.target == f"respondent:{person.id}"


def test_a_form_sent_twice_counts_once(app) -> None:
    """A double tap or a reload resends the same turn: one answer, not two."""
    interview = Interview(app)
    interview.tap("ยินยอม")
    answer = {"button": interview.buttons()["คนขับรถม้า"], "turn": interview.turn()}
    for _ in range(2):
        interview.user.post(f"{interview.path}/answer", answer)
    with app.extensions["runtime"].db() as session:
        assert len(session.scalars(select(Answer)).all()) == 1


def test_the_respondent_takes_the_interview_over_on_their_own_phone(app, clock) -> None:
    """The code sent from LINE moves the answers, consent and conversation to that LINE user:
    the bot says so and asks the same question again; their next answer is their own; the code
    works once."""
    interview = Interview(app)
    interview.tap("ยินยอม")
    interview.tap("คนขับรถม้า")
    waiting = interview.last_message()
    text = interview.code()
    assert text.startswith(HAND_OVER_WORD)
    runtime = app.extensions["runtime"]
    runtime.handle(Inbound("line", PHONE, TextInput("สวัสดี"), event_id="hello"))  # added as friend
    runtime.handle(Inbound("line", PHONE, TextInput(text), event_id="code"))
    with runtime.db() as session:
        phone = session.scalars(select(Respondent).where(Respondent.channel_user_id == PHONE)).one()
        assert session.get(Respondent, interview.respondent_id) is None
        said = [
            row.payload["text"]
            for row in session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.respondent_id == phone.id,
                    OutboxMessage.channel == "line",
                    OutboxMessage.kind == "reply",
                )
                .order_by(OutboxMessage.id)
            )
        ]
        assert "เชื่อมต่อเรียบร้อย" in said[-3] and waiting.strip() in said[-1]
        moved = session.scalars(select(Answer)).all()
        assert {a.respondent_id for a in moved} == {phone.id}
        assert session.scalars(
            select(ConsentRecord.entered_by).where(ConsentRecord.given)
        ).all() == [COORDINATOR]
        assert session.get(Conversation, phone.id).submission_id is not None
    runtime.handle(
        Inbound("line", PHONE, TextInput("3"), event_id="own answer")
    )  # เทศบาล… by number
    with runtime.db() as session:
        latest = session.scalars(select(Answer).order_by(Answer.id.desc())).first()
        assert latest.entered_by == "respondent" and latest.respondent_id == phone.id
    # the same code from someone else: it has been used
    runtime.handle(Inbound("line", "U" + "q" * 32, TextInput(text), event_id="again"))
    with runtime.db() as session:
        other = session.scalars(
            select(Respondent).where(Respondent.channel_user_id == "U" + "q" * 32)
        ).one()
        told = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.respondent_id == other.id)
        ).first()
    assert "รหัสนี้ใช้ไม่ได้" in told["text"]
    # and the coordinator's page says the interview has moved
    assert interview.user.get(interview.path).status_code == 302
    interview.user.get("/console/interviews")
    assert "อาจย้ายไปที่โทรศัพท์ของผู้ตอบแล้ว" in interview.user.text()


def test_a_telegram_deep_link_and_an_expired_code(app, clock) -> None:
    """The QR code's Telegram link carries the same text; a code older than half an hour
    joins nothing."""
    interview = Interview(app)
    interview.tap("ยินยอม")
    old = interview.code()
    clock.advance(minutes=31)
    runtime = app.extensions["runtime"]
    runtime.handle(Inbound("telegram", "777", StartSurvey(old), event_id="late"))
    fresh = interview.code()
    runtime.handle(Inbound("telegram", "888", StartSurvey(fresh), event_id="on time"))
    with runtime.db() as session:
        by_chat = {
            r.channel_user_id: r.id
            for r in session.scalars(select(Respondent).where(Respondent.channel == "telegram"))
        }
        consents = session.scalars(select(ConsentRecord.respondent_id)).all()
    assert consents == [by_chat["888"]]


def test_a_phone_with_answers_of_its_own_is_not_mixed_with_the_interview(app, clock) -> None:
    """Someone who already answered on that phone: the two are kept apart, and told why."""
    interview = Interview(app)
    interview.tap("ยินยอม")
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        own = Respondent(channel="line", channel_user_id=PHONE, profile={}, created_at=clock.now)
        session.add(own)
        session.flush()
        version = session.scalars(select(Submission.survey_version_id)).first()
        session.add(
            Submission(
                respondent_id=own.id,
                survey_version_id=version,
                channel="line",
                started_at=clock.now - timedelta(days=1),
            )
        )
    runtime.handle(Inbound("line", PHONE, TextInput(interview.code()), event_id="code"))
    with runtime.db() as session:
        assert session.get(Respondent, interview.respondent_id) is not None
        told = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.respondent_id == own.id)
            .order_by(OutboxMessage.id)
        ).first()
    assert "มีคำตอบของตัวเองอยู่แล้ว" in told["text"]


def test_a_researcher_cannot_interview(app) -> None:
    """Interviews are for coordinators and admins: a researcher gets 403."""
    add_account(app, "r@example.org", "researcher")
    user = ConsoleUser(app)
    user.sign_in("r@example.org")
    assert user.get("/console/interviews").status_code == 403
    user.get("/console/password")
    assert user.post("/console/interviews").status_code == 403


@given(st.text(max_size=60))
def test_the_hand_over_code_reader_takes_any_text(text: str) -> None:
    """Any text: a code of 8 digits, or None; never an error."""
    code = hand_over_code(TextInput(text))
    assert code is None or (len(code) == 8 and code.isdigit())


@given(st.integers(min_value=0, max_value=99_999_999))
def test_the_code_is_read_however_it_is_typed(number: int) -> None:
    """Thai digits, English "link", spaces and a colon: the same code."""
    code = f"{number:08d}"
    thai = code.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
    for typed in (f"เชื่อม {code}", f"เชื่อม{thai}", f" LINK: {code} ", f"link {thai}"):
        assert hand_over_code(TextInput(typed)) == code
    assert hand_over_code(TextInput(f"เชื่อม {code}9")) is None


def test_a_simulator_tester_cannot_take_a_real_interview_over(app, clock) -> None:
    """Someone trying the bot in the simulator who types a live code: the interview stays real
    data, on the coordinator's side."""
    interview = Interview(app)
    interview.tap("ยินยอม")
    text = interview.code()
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        session.add(
            Respondent(
                channel="web", channel_user_id="sim-tester", is_test=True, created_at=clock.now
            )
        )
    runtime.handle(Inbound("web", "sim-tester", TextInput(text), event_id="try"))
    with runtime.db() as session:
        kept = session.get(Respondent, interview.respondent_id)
        assert kept is not None and not kept.is_test
        assert {c.respondent_id for c in session.scalars(select(ConsentRecord))} == {kept.id}
