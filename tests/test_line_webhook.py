"""LINE end to end: signed webhooks in, replies out through a fake LINE API on loopback."""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from bot.buttons import is_reference
from bot.coordinators import invite_to_feedback
from bot.delivery import LEASE, deliver
from bot.service import Inbound, handle_inbound
from storage.models import (
    Answer,
    ConsentRecord,
    Feedback,
    OutboxMessage,
    ProcessedEvent,
    Respondent,
    Submission,
    Workshop,
)
from survey_flows.session import HelloInput
from tests.corpora import corpus
from tests.line_user import (
    USER,
    LineUser,
    button_actions,
    count,
    sign,
    text_message,
    text_of,
)


def test_forged_webhooks_are_rejected_and_change_nothing(line_app, fake_line) -> None:
    """A missing or wrong signature gets a 4xx; nothing is stored and nothing is sent."""
    user = LineUser(line_app, fake_line)
    event = user.event("follow")
    assert user.post(event, signature="").status_code == 400
    assert user.post(event, signature=base64.b64encode(b"x" * 32).decode()).status_code == 400
    assert line_app.test_client().post("/webhooks/line", data=b"{}").status_code == 400
    assert count(line_app, Respondent) == 0
    assert count(line_app, ProcessedEvent) == 0
    assert fake_line.requests == []


def test_the_verify_button_gets_a_200(line_app, fake_line) -> None:
    """LINE's console 'Verify' sends no events, and must get a 200."""
    assert LineUser(line_app, fake_line).post().status_code == 200


def test_follow_greets_and_the_assessment_is_completed_through_quick_replies(
    line_app, fake_line
) -> None:
    """From follow to results card and courses, by tapping quick replies; answers are stored."""
    user = LineUser(line_app, fake_line)
    greeting = user.send(user.event("follow"))
    assert "สวัสดีค่ะ" in text_of(greeting)
    assert user.quick_replies() == ["ยินยอม", "ไม่ยินยอม"]
    assert fake_line.replies(), "the reply token is used first"
    user.tap("ยินยอม")
    user.tap("คนขับรถม้า")
    user.tap("เทศบาลนครลำปาง")
    asked = user.say("ประเมิน")
    for _ in range(40):
        assert "ข้อ" in text_of(asked)
        asked = user.tap("เห็นด้วย" if "เห็นด้วย" in user.quick_replies() else "ทำบ่อย")
    card = next(m for m in asked if m["type"] == "flex")
    assert "ทัศนคติ" in json.dumps(card, ensure_ascii=False)
    assert "หลักสูตร" in text_of(asked)
    assert count(line_app, Answer) >= 40
    with line_app.extensions["runtime"].db() as session:
        submission = session.scalars(select(Submission).where(Submission.scores.is_not(None))).one()
        assert submission.channel == "line"
        assert session.scalar(select(ConsentRecord.given)) is True


def test_each_event_sent_three_times_in_parallel_counts_once(line_app, fake_line) -> None:
    """LINE redelivers: the same events arriving 3 times at once store and send one of each."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("สำรวจ")
    answered = count(line_app, Answer)
    sent = len(fake_line.messages_to(USER))
    event = user.event("message", message=text_message("12"))
    redelivered = copy.deepcopy(event)
    redelivered["deliveryContext"]["isRedelivery"] = True
    with ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(lambda e: user.post(e).status_code, [event, redelivered, event]))
    assert statuses == [200, 200, 200]
    deliver(line_app.extensions["runtime"], line_app.extensions["runtime"].clock())
    assert count(line_app, Answer) == answered + 1
    assert len(fake_line.messages_to(USER)) == sent + 1


def test_two_events_in_one_body_are_each_answered_with_their_own_free_reply(
    line_app, fake_line
) -> None:
    """LINE may batch a user's events: each event's replies use its own reply token, so none
    falls back to a push, which counts against the monthly quota."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("สำรวจ")
    pushes = len(fake_line.pushes())
    first = user.event("message", message=text_message("12"))
    second = user.event("message", message=text_message("ช่วยเหลือ"))
    assert user.post(first, second).status_code == 200
    deliver(line_app.extensions["runtime"], line_app.extensions["runtime"].clock())
    tokens = [reply.json["replyToken"] for reply in fake_line.replies()[-2:]]
    assert tokens == [first["replyToken"], second["replyToken"]]
    assert len(fake_line.pushes()) == pushes


def test_replies_claimed_for_sending_after_commit_are_not_lost_if_the_sender_dies(
    line_app, fake_line, clock
) -> None:
    """The webhook writes its replies already claimed, to send them itself right after commit.
    If the process dies before it sends, the claim lapses and delivery sends them, once."""
    runtime = line_app.extensions["runtime"]
    hello = Inbound("line", USER, HelloInput(), event_id="e1", reply_token="expired-token")
    turn = handle_inbound(runtime.db, runtime.library, hello, clock.now, runtime.tz, send_now=True)
    assert turn.claimed, "the replies are claimed, none left for delivery to claim"
    # ... and the process dies here, before sending: nothing is sent while the claim holds
    assert deliver(runtime, clock.now) == 0
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert deliver(runtime, clock.now) == len(turn.claimed)
    assert "สวัสดีค่ะ" in text_of(fake_line.messages_to(USER))
    assert deliver(runtime, clock.now) == 0
    # the chat's waiting messages go together, in one push under the first one's retry key
    retry_keys = [push.headers["x-line-retry-key"] for push in fake_line.pushes()]
    assert retry_keys == [turn.claimed[0].retry_key]


def test_stickers_images_and_files_get_a_friendly_reprompt(line_app, fake_line) -> None:
    """Non-text where text is expected: a short Thai note and the same question again."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("สำรวจ")
    for content in (
        {
            "type": "sticker",
            "id": "1",
            "packageId": "1",
            "stickerId": "1",
            "quoteToken": "q",
            "stickerResourceType": "STATIC",
        },
        {"type": "image", "id": "2", "contentProvider": {"type": "line"}, "quoteToken": "q"},
        {"type": "location", "id": "3", "latitude": 18.29, "longitude": 99.49},
        {"type": "file", "id": "4", "fileName": "แบบฟอร์ม.pdf", "fileSize": 2138},
    ):
        reply = user.send(user.event("message", message=content))
        assert "เราอ่านได้แค่ตัวหนังสือกับการกดปุ่ม" in text_of(reply)
        assert "คุณทำอาชีพนี้มากี่ปีแล้วคะ" in text_of(reply)


def test_unfollow_stops_pushes_keeps_data_and_a_refollow_resumes(
    line_app, fake_line, clock
) -> None:
    """Blocked: nothing more is pushed (the nudge is dropped); unblocked: back where they were."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("สำรวจ")
    user.say("12")
    sent = len(fake_line.requests)
    user.send(user.event("unfollow"))
    clock.advance(days=2)
    deliver(line_app.extensions["runtime"], clock.now)
    assert len(fake_line.requests) == sent  # the nudge did not go out
    assert count(line_app, Answer) > 0
    back = user.send(user.event("follow"))
    assert "สวัสดีอีกครั้งค่ะ" in text_of(back)
    assert "เริ่มทำอาชีพนี้วันไหนคะ" in text_of(back)


def test_in_a_group_one_short_note_and_nothing_stored(line_app, fake_line) -> None:
    """Group members' messages are not stored; the group hears once that the survey is 1:1."""
    user = LineUser(line_app, fake_line)
    group = {"type": "group", "groupId": "C" + "1" * 32, "userId": USER}
    for text in ("สวัสดี", "ทำแบบสอบถาม"):
        event = user.event("message", message=text_message(text))
        assert user.post(event | {"source": group}).status_code == 200
    deliver(line_app.extensions["runtime"], line_app.extensions["runtime"].clock())
    assert len(fake_line.replies()) == 1
    assert "แชตส่วนตัว" in json.dumps(fake_line.replies()[0].json, ensure_ascii=False)
    assert count(line_app, Respondent) == 0


def test_the_line_corpus_is_handled_or_ignored_without_error(line_app, fake_line) -> None:
    """LINE's 28 sample events of every type (ids made unique, as LINE's are) get a 200."""
    body = json.loads((corpus("line-webhook") / "webhook.json").read_text())
    for event in body["events"]:
        event["webhookEventId"] = uuid.uuid4().hex
    raw = json.dumps(body).encode()
    response = line_app.test_client().post(
        "/webhooks/line", data=raw, headers={"X-Line-Signature": sign(raw)}
    )
    assert response.status_code == 200
    deliver(line_app.extensions["runtime"], line_app.extensions["runtime"].clock())
    with line_app.extensions["runtime"].db() as session:
        users = set(session.scalars(select(Respondent.channel_user_id)))
        unreachable = set(
            session.scalars(select(Respondent.channel_user_id).where(~Respondent.reachable))
        )
    # only 1:1 users became respondents; the unfollow was recorded
    assert users and all(u.startswith("U") for u in users)
    assert unreachable


def test_a_slow_line_api_never_slows_the_webhook(sending_line_app, fake_line) -> None:
    """LINE answering in 3 s: the webhook still answers well inside LINE's 2 s."""
    fake_line.delay_next(3.0, count=5)
    user = LineUser(sending_line_app, fake_line)
    started = time.perf_counter()
    assert user.post(user.event("follow")).status_code == 200
    assert time.perf_counter() - started < 1.0
    fake_line.wait_for_messages(2, timeout=15)  # the reply still arrives, later


def test_a_reply_written_while_the_last_one_is_being_sent_follows_it_at_once(
    sending_line_app, fake_line
) -> None:
    """A quick second message: its reply waits for the first reply to be sent (a chat reads in
    order), then goes out at once with its own token, with no delivery worker running."""
    user = LineUser(sending_line_app, fake_line)
    # LINE takes the greeting, but its answer is slow to come back: long enough that the
    # second message's turn commits while the greeting is still being sent
    fake_line.delay_next(3.0)
    assert user.post(user.event("follow")).status_code == 200
    fake_line.wait_for_messages(1)
    greeting = len(fake_line.messages_to(USER))
    question = user.event("message", message=text_message("ช่วยเหลือ"))
    assert user.post(question).status_code == 200
    fake_line.wait_for_messages(greeting + 1, timeout=10)
    assert fake_line.replies()[-1].json["replyToken"] == question["replyToken"]


def test_an_expired_reply_token_falls_back_to_push_with_a_retry_key(line_app, fake_line) -> None:
    """The free reply is tried first; when its token has expired, the message is pushed."""
    user = LineUser(line_app, fake_line)
    event = user.event("follow")
    fake_line.expire_reply_tokens()
    user.send(event)
    pushes = fake_line.pushes()
    assert len({uuid.UUID(push.headers["x-line-retry-key"]) for push in pushes}) == len(pushes)
    assert "สวัสดีค่ะ" in text_of(pushes[0].json["messages"])


def test_failures_are_retried_with_the_same_key_or_given_up_with_the_reason(
    line_app, fake_line, clock
) -> None:
    """A 500 is retried after a backoff with the same retry key; a 400 fails for good."""
    user = LineUser(line_app, fake_line)
    event = user.event("follow")
    fake_line.expire_reply_tokens()
    fake_line.fail_next(500, path_contains="push")
    user.send(event)
    assert fake_line.messages_to(USER) == []
    clock.advance(seconds=3)
    deliver(line_app.extensions["runtime"], clock.now)
    keys = [r.headers["x-line-retry-key"] for r in fake_line.pushes()]
    assert len(keys) >= 2 and keys[0] == keys[1]
    assert fake_line.messages_to(USER)
    fake_line.fail_next(400, count=10)
    event = user.event("message", message=text_message("ยินยอม"))
    fake_line.expire_reply_tokens()
    user.send(event)
    with line_app.extensions["runtime"].db() as session:
        failed = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "failed")
        ).all()
        assert failed and all("400" in (row.last_error or "") for row in failed)


def test_twenty_choices_are_paged_behind_next(line_app, fake_line, tmp_path) -> None:
    """LINE shows 13 quick replies at most: 12 choices and ถัดไป, then the other 8 and ข้าม."""
    rows = "\n".join(f"| | many | c{n} | ตัวเลือกที่ {n} |" for n in range(1, 21))
    form = tmp_path / "many.md"
    form.write_text(
        "| survey |\n| | type | name | label |\n| | select_one many | pick | เลือกหนึ่งข้อ |\n"
        f"| choices |\n| | list_name | name | label |\n{rows}\n"
        "| settings |\n| | form_id | keyword |\n| | many | เลือก |\n",
        encoding="utf-8",
    )
    assert line_app.test_cli_runner().invoke(args=["import-survey", str(form)]).exit_code == 0
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("เลือก")
    first_page = user.quick_replies()
    assert len(first_page) == 13 and first_page[-1] == "ถัดไป ▶"
    assert first_page[:12] == [f"ตัวเลือกที่ {n}" for n in range(1, 13)]
    user.tap("ถัดไป ▶")
    assert user.quick_replies() == [*(f"ตัวเลือกที่ {n}" for n in range(13, 21)), "ข้าม"]
    user.tap("ตัวเลือกที่ 17")
    with line_app.extensions["runtime"].db() as session:
        assert session.scalar(select(Answer.value).where(Answer.question == "pick")) == "c17"


def test_a_workshop_is_booked_and_reminded_through_line(line_app, fake_line, clock) -> None:
    """อบรม, a workshop, ลงทะเบียน: confirmed by reply; the day before, a pushed reminder."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    user.say("อบรม")
    first = button_actions(fake_line.messages_to(USER)[-1])[0]
    assert is_reference(first["data"])  # a short token; the button's data stays on the server
    details = user.send(user.event("postback", postback={"data": first["data"]}))
    assert "ยังว่าง" in text_of(details)
    assert "ลงทะเบียนเรียบร้อย" in text_of(user.tap("ลงทะเบียน"))
    with line_app.extensions["runtime"].db() as session:
        due = min(
            session.scalars(select(OutboxMessage.due_at).where(OutboxMessage.kind == "reminder"))
        )
    clock.now = due
    pushes_before = len(fake_line.pushes())
    deliver(line_app.extensions["runtime"], clock.now)
    [reminder] = fake_line.pushes()[pushes_before:]
    assert "พรุ่งนี้มีอบรม" in text_of(reminder.json["messages"])
    assert uuid.UUID(reminder.headers["x-line-retry-key"])


def test_waitlist_promotion_check_in_and_feedback_through_line(line_app, fake_line, clock) -> None:
    """Two seats, three drivers on LINE: waitlisted, promoted on a cancel, checked in, asked."""
    people = [LineUser(line_app, fake_line, "U" + str(n) * 32) for n in (1, 2, 3)]
    for person in people:
        person.onboard()
        person.say("อบรม")
        actions = button_actions(fake_line.messages_to(person.user_id)[-1])
        marketing = next(a for a in actions if "กาดกองต้า" in a["displayText"])
        person.send(person.event("postback", postback={"data": marketing["data"]}))
    first, second, third = people
    assert "ลงทะเบียนเรียบร้อย" in text_of(first.tap("ลงทะเบียน"))
    assert "ลงทะเบียนเรียบร้อย" in text_of(second.tap("ลงทะเบียน"))
    third.say("อบรม")  # the list again: the workshop is full now
    actions = button_actions(fake_line.messages_to(third.user_id)[-1])
    marketing = next(a for a in actions if "กาดกองต้า" in a["displayText"])
    assert "เต็มแล้ว" in text_of(
        third.send(third.event("postback", postback={"data": marketing["data"]}))
    )
    assert "คิวสำรองลำดับที่ 1" in text_of(third.tap("ต่อคิวสำรอง"))
    first.say("การลงทะเบียนของฉัน")
    assert "ใช่ไหมคะ" in text_of(first.tap("ยกเลิกรอบที่ 1"))
    assert "ให้แล้วค่ะ" in text_of(first.tap("ยืนยันยกเลิก"))
    assert "ข่าวดีค่ะ" in text_of(fake_line.messages_to(third.user_id)[-1:])  # pushed
    with line_app.extensions["runtime"].db() as session:
        workshop = session.scalars(select(Workshop).where(Workshop.capacity == 2)).one()
    clock.now = workshop.starts_at + timedelta(minutes=5)
    assert "เช็กอินเรียบร้อย" in text_of(second.say("กองต้า"))
    clock.now = workshop.ends_at + timedelta(hours=2)
    invite_to_feedback(line_app.extensions["runtime"], clock.now)
    deliver(line_app.extensions["runtime"], clock.now)
    assert "ให้คะแนน" in text_of(fake_line.messages_to(second.user_id)[-1:])
    second.tap("4")
    assert "ขอบคุณมากค่ะ" in text_of(second.tap("ข้าม"))
    with line_app.extensions["runtime"].db() as session:
        assert session.scalar(select(Feedback.rating)) == 4
