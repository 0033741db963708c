"""Telegram end to end: updates to the webhook, replies through a fake Bot API on loopback."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.coordinators import invite_to_feedback
from bot.delivery import deliver
from bot.telegram.links import PAYLOAD, keyword_payload, read_payload
from bot.telegram.render import telegram_messages
from bot.text_cut import utf16_units
from storage.models import (
    Answer,
    ConsentRecord,
    Feedback,
    OutboxMessage,
    Registration,
    Respondent,
    Workshop,
)
from storage.outbox import add_messages
from tests.chat import listed_numbers
from tests.telegram_user import CHAT, SECRET, TelegramUser, app_with_telegram, texts


def count(app, model) -> int:
    """Rows of a table."""
    with app.extensions["runtime"].db() as session:
        return session.scalar(select(func.count()).select_from(model))


def buttons_of(message: dict) -> list[str]:
    """The labels of a message's inline buttons, row by row."""
    keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in keyboard for button in row]


def test_a_missing_or_wrong_secret_is_refused_and_changes_nothing(telegram_app, fake_telegram):
    """Anyone can find the webhook's address; only Telegram knows the secret token."""
    user = TelegramUser(telegram_app, fake_telegram)
    update = fake_telegram.start_update(CHAT)
    assert user.post(update, secret=None).status_code == 403
    assert user.post(update, secret="wrong-secret").status_code == 403
    assert count(telegram_app, Respondent) == 0 and fake_telegram.calls("sendMessage") == []


def test_unconfigured_telegram_answers_503(database_url, clock, fake_telegram):
    """No token: Telegram's retries wait until the bot is set up, and nothing is stored."""
    app = next(app_with_telegram(database_url, clock, fake_telegram, TELEGRAM_BOT_TOKEN=""))
    assert (
        TelegramUser(app, fake_telegram).post(fake_telegram.start_update(CHAT)).status_code == 503
    )
    app.extensions["runtime"].close()


def test_start_consent_and_a_tap_that_stops_the_spinner_and_shows_the_choice(
    telegram_app, fake_telegram
):
    """/start greets like LINE's follow; a tap is answered, and its keyboard becomes the answer."""
    user = TelegramUser(telegram_app, fake_telegram)
    greeting = user.send(fake_telegram.start_update(CHAT))
    assert "คุณยินยอมให้เราเก็บคำตอบไหมคะ" in texts(greeting)
    assert buttons_of(greeting[-1]) == ["ยินยอม", "ไม่ยินยอม"]
    asked = user.tap("ยินยอม")
    assert "คุณทำงานด้านไหนคะ" in texts(asked)
    assert len(buttons_of(asked[-1])) == 6  # one per row: every group in view
    # both calls go out without the webhook waiting for them
    assert eventually(lambda: fake_telegram.answered_callbacks and _edited(fake_telegram))
    consent = next(m for m in fake_telegram.sent_to(CHAT) if "ยินยอมให้เรา" in m.get("text", ""))
    assert consent["text"].endswith("✓ ยินยอม") and not buttons_of(consent)


def _edited(fake) -> bool:
    return bool(fake.calls("editMessageText"))


def eventually(condition, timeout: float = 5.0) -> bool:
    """Whether `condition` comes true within `timeout` seconds of real time (calls made in the
    background, which no test clock moves)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_assessment_card_a_course_and_a_workshop_through_telegram(
    telegram_app, fake_telegram, clock
):
    """A driver does the 40 statements, sees the card, taps a course, registers, is reminded."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    replies = user.say("ประเมิน")
    for number in range(1, 41):
        assert f"ข้อ {number}/40" in texts(replies), number
        replies = user.tap(buttons_of(replies[-1])[0])
    assert "ผลการประเมินของคุณ" in texts(replies) and "ทัศนคติ" in texts(replies)
    card = next(m for m in replies if "ผลการประเมินของคุณ" in m["text"])
    bold = [
        card["text"][e["offset"] : e["offset"] + e["length"]]  # offsets in UTF-16 units: Thai
        for e in card.get("entities", [])  # and ASCII are one unit each
        if e["type"] == "bold"
    ]
    assert [line.rsplit(" ", 1)[0] for line in bold] == [
        "ทัศนคติ",
        "ความรู้",
        "ทักษะ",
        "ความคิดใหม่ในอาชีพ",
    ], "each characteristic's name and score in bold"
    course = next(label for label in buttons_of(replies[-1]) if "รถม้า" in label)
    rounds = user.tap(course)
    assert "รอบอบรมที่กำลังจะมาถึง" in texts(rounds)
    details = user.tap(buttons_of(rounds[-1])[0])
    assert "ยังว่าง" in texts(details)
    assert "ลงทะเบียนเรียบร้อย" in texts(user.tap("ลงทะเบียน"))
    assert count(telegram_app, Registration) == 1
    with telegram_app.extensions["runtime"].db() as session:
        due = min(
            session.scalars(select(OutboxMessage.due_at).where(OutboxMessage.kind == "reminder"))
        )
    clock.now = due
    before = len(fake_telegram.sent_to(CHAT))
    deliver(telegram_app.extensions["runtime"], clock.now)
    assert "พรุ่งนี้มีอบรม" in texts(fake_telegram.sent_to(CHAT)[before:])


def test_an_update_delivered_three_times_at_once_is_answered_once(telegram_app, fake_telegram):
    """Telegram resends an update it thinks was lost: one answer, one consent question."""
    user = TelegramUser(telegram_app, fake_telegram)
    update = fake_telegram.start_update(CHAT)
    with ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(lambda _: user.post(update).status_code, range(3)))
    assert statuses == [200, 200, 200]
    deliver(telegram_app.extensions["runtime"], telegram_app.extensions["runtime"].clock())
    assert texts(fake_telegram.sent_to(CHAT)).count("คุณยินยอมให้เราเก็บคำตอบไหมคะ") == 1


def test_a_tap_on_an_old_keyboard_is_told_gently_and_stores_nothing(telegram_app, fake_telegram):
    """The group question answered by typing keeps its buttons; a tap on one later is stale."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.send(fake_telegram.start_update(CHAT))
    user.tap("ยินยอม")
    group_question = fake_telegram.sent_to(CHAT)[-1]
    user.say("1")  # typed, not tapped: the keyboard stays
    answers = count(telegram_app, Answer)
    data = (group_question["reply_markup"] or {})["inline_keyboard"][1][0]["callback_data"]
    stale = user.send(
        fake_telegram.callback_update(CHAT, data, message_id=group_question["message_id"])
    )
    assert "ปุ่มนั้นใช้ไม่ได้แล้ว" in texts(stale) and "คุณอยู่ในเขตเทศบาลไหนคะ" in texts(stale)
    assert count(telegram_app, Answer) == answers
    # its buttons go, with no "✓" for an answer that was not taken
    assert eventually(lambda: fake_telegram.calls("editMessageReplyMarkup"))
    old = next(
        m for m in fake_telegram.sent_to(CHAT) if m["message_id"] == group_question["message_id"]
    )
    assert not buttons_of(old) and "✓" not in old["text"]


def test_a_deep_link_starts_the_survey_after_consent(telegram_app, fake_telegram):
    """t.me/<bot>?start=<payload> from a poster: consent and profile first, then the survey."""
    user = TelegramUser(telegram_app, fake_telegram)
    greeting = user.send(fake_telegram.start_update(CHAT, keyword_payload("ประเมิน")))
    assert "คุณยินยอมให้เราเก็บคำตอบไหมคะ" in texts(greeting)
    user.tap("ยินยอม")
    user.tap("คนขับรถม้า")
    assert "ข้อ 1/40" in texts(user.tap("เทศบาลนครลำปาง"))


def test_a_deep_link_can_only_start_a_survey(telegram_app, fake_telegram):
    """A link made with "ยินยอม" in it must not consent for whoever opens it."""
    user = TelegramUser(telegram_app, fake_telegram)
    opened = user.send(fake_telegram.start_update(CHAT, keyword_payload("ยินยอม")))
    assert "คุณยินยอมให้เราเก็บคำตอบไหมคะ" in texts(opened)
    assert count(telegram_app, ConsentRecord) == 0


def test_a_keyboard_tapped_in_a_group_is_nobodys_answer(telegram_app, fake_telegram):
    """A question forwarded into a group and tapped there: answered, ignored, no respondent."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.send(fake_telegram.start_update(CHAT))
    data = fake_telegram.sent_to(CHAT)[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    update = fake_telegram.callback_update(CHAT, data)
    update["callback_query"]["message"]["chat"] = {
        "id": -100999,
        "type": "supergroup",
        "title": "g",
    }
    assert user.post(update).status_code == 200
    assert count(telegram_app, Respondent) == 1
    assert eventually(lambda: fake_telegram.answered_callbacks)


def test_a_photo_where_text_is_expected_gets_a_reprompt(telegram_app, fake_telegram):
    """A photo or a sticker: a short Thai note and the same question again."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    user.say("สำรวจ")
    for update in (fake_telegram.photo_update(CHAT), fake_telegram.sticker_update(CHAT)):
        replies = user.send(update)
        assert "อ่านได้แค่ตัวหนังสือกับการกดปุ่ม" in texts(replies)
        assert "คุณทำอาชีพนี้มากี่ปีแล้วคะ" in texts(replies)


def test_edits_are_ignored_and_a_group_is_told_once(telegram_app, fake_telegram):
    """Edited messages change nothing; in a group the bot says once it works in a private chat."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    assert user.send(fake_telegram.edited_message_update(CHAT, "แก้แล้ว")) == []
    group = -100123456
    for _ in range(2):
        update = fake_telegram.group_message_update(group, CHAT, "สวัสดีค่ะ")
        assert user.post(update).status_code == 200
        deliver(telegram_app.extensions["runtime"], telegram_app.extensions["runtime"].clock())
    [note] = fake_telegram.sent_to(group)
    assert "แชตส่วนตัว" in note["text"]


def test_blocking_and_unblocking_the_bot(telegram_app, fake_telegram):
    """Blocked: nothing more is pushed (a 403 says so too); unblocked: reachable again."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    user.send(fake_telegram.my_chat_member_update(CHAT, "kicked"))
    assert not _reachable(telegram_app)
    user.send(fake_telegram.my_chat_member_update(CHAT, "member"))
    assert _reachable(telegram_app)
    fake_telegram.block(CHAT)
    user.say("ช่วยเหลือ")
    assert not _reachable(telegram_app)


def _reachable(app) -> bool:
    with app.extensions["runtime"].db() as session:
        return session.scalars(select(Respondent.reachable)).one()


def test_a_429_is_honoured_with_its_retry_after(telegram_app, fake_telegram, clock):
    """Telegram says wait 2 s: the message waits at least that long, then goes."""
    user = TelegramUser(telegram_app, fake_telegram)
    fake_telegram.fail_next("sendMessage", status=429, retry_after=2)
    assert user.send(fake_telegram.start_update(CHAT)) == []
    with telegram_app.extensions["runtime"].db() as session:
        waiting = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        assert waiting.status == "pending" and (waiting.due_at - clock.now).total_seconds() >= 2
    clock.advance(seconds=3)
    deliver(telegram_app.extensions["runtime"], clock.now)
    assert "คุณยินยอมให้เราเก็บคำตอบไหมคะ" in texts(fake_telegram.sent_to(CHAT))


#: A FakeTelegram in a process of its own, enforcing Telegram's flood limits, that prints every
#: request (method, chat, arrival time, status) as JSON once its stdin closes.
FAKE_ELSEWHERE = """
import json, sys
from tests.fake_telegram import FakeTelegram
fake = FakeTelegram(enforce_rate_limits=True, port=int(sys.argv[1])).start()
print(fake.url, fake.token, flush=True)
sys.stdin.read()
print(json.dumps([[r.method, r.params.get("chat_id"), r.received_at, r.status] for r in fake.requests]))
fake.stop()
"""


def test_three_hundred_chats_never_exceed_telegrams_pace(database_url, clock) -> None:
    """300 messages to 300 chats: at most 30 in any second and no 429 from Telegram's own flood
    control, counted by the arrival times of a fake Telegram in its own process (so that this
    process's threads cannot hold back its clock, as they cannot Telegram's); then three to
    one chat arrive a second apart. The test sleeps nowhere."""
    import socket
    import subprocess
    import sys
    from types import SimpleNamespace

    from tests.fake_telegram import max_in_window

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE_ELSEWHERE, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    url, token = fake.stdout.readline().split()
    app = next(
        app_with_telegram(
            database_url,
            clock,
            SimpleNamespace(url=url, token=token),
            TELEGRAM_CHAT_INTERVAL_SECONDS="",
            TELEGRAM_MESSAGES_PER_SECOND="",
        )
    )
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        for n in range(300):
            respondent = Respondent(
                channel="telegram", channel_user_id=str(7000 + n), profile={}, created_at=clock.now
            )
            session.add(respondent)
            session.flush()
            add_messages(
                session, respondent.id, "telegram", str(7000 + n), [{"text": "แจ้งข่าวค่ะ"}], clock.now
            )
        add_messages(
            session,
            None,
            "telegram",
            "7000",
            [{"text": "1"}, {"text": "2"}, {"text": "3"}],
            clock.now,
        )
    while deliver(runtime, clock.now):
        pass
    runtime.close()
    answer, _ = fake.communicate("", timeout=30)
    sends = [
        (chat, at, status)
        for method, chat, at, status in json.loads(answer)
        if method == "sendMessage"
    ]
    assert len(sends) == 303 and all(status == 200 for *_, status in sends)  # no 429
    assert max_in_window(sorted(at for _, at, _ in sends), 1.0) <= 30
    assert max(at for _, at, _ in sends) - min(at for _, at, _ in sends) >= 9.0  # under 30 a second
    assert max_in_window(sorted(at for chat, at, _ in sends if chat == 7000), 1.0) == 1


def test_a_long_text_is_split_between_whole_letters_under_4096(telegram_app, fake_telegram):
    """Telegram's 4,096 UTF-16 units: a long message goes in parts, buttons on the last."""
    parts = telegram_messages(
        {"text": "ข้อความยาว 😊 " * 800, "buttons": [{"label": "ทำต่อ", "data": "x"}]}, row_id=9
    )
    assert len(parts) > 1 and all(utf16_units(p["text"]) <= 4096 for p in parts)
    assert "reply_markup" in parts[-1] and all("reply_markup" not in p for p in parts[:-1])
    assert parts[-1]["reply_markup"]["inline_keyboard"] == [
        [{"text": "ทำต่อ", "callback_data": "b:9.0"}]
    ]


@given(st.text(max_size=200))
def test_deep_link_payloads_round_trip_and_garbage_reads_as_nothing(keyword: str) -> None:
    """A keyword's payload fits Telegram's alphabet and reads back; anything else is None."""
    try:
        payload = keyword_payload(keyword)
    except ValueError:
        assert len(keyword.encode()) > 47
    else:
        assert PAYLOAD.fullmatch(payload)
        assert read_payload(payload) == (("keyword", keyword) if keyword.strip() else None)
    read_payload(keyword)  # never raises


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_json_body_gets_an_answer_never_a_500(telegram_app, fake_telegram, body) -> None:
    """Whatever JSON arrives with the right secret: 200 or 400, and nothing else breaks."""
    user = TelegramUser(telegram_app, fake_telegram)
    response = user.app.test_client().post(
        "/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert response.status_code in (200, 400)


def test_set_webhook_sends_the_secret_and_the_menu_in_thai_and_english(telegram_app, fake_telegram):
    """`flask telegram set-webhook URL`: Telegram gets the address, the secret and the / menu."""
    url = "https://bot.example.org/webhooks/telegram"
    result = telegram_app.test_cli_runner().invoke(args=["telegram", "set-webhook", url])
    assert result.exit_code == 0, result.output
    assert fake_telegram.webhook["url"] == url and fake_telegram.webhook["secret_token"] == SECRET
    thai = {c["command"]: c["description"] for c in fake_telegram.commands("th")}
    english = {c["command"]: c["description"] for c in fake_telegram.commands("en")}
    assert (
        thai["assessment"] == "เริ่มแบบประเมิน" and english["mydata"] == "See what we keep about you"
    )


def test_polling_takes_updates_without_a_public_url(telegram_app, fake_telegram):
    """`flask telegram poll`: the same handling as the webhook, for trying the bot on a laptop."""
    fake_telegram.queue_update(fake_telegram.start_update(CHAT))
    result = telegram_app.test_cli_runner().invoke(args=["telegram", "poll", "--once"])
    assert result.exit_code == 0, result.output
    assert "took 1 update(s)" in result.output
    deliver(telegram_app.extensions["runtime"], telegram_app.extensions["runtime"].clock())
    assert "คุณยินยอมให้เราเก็บคำตอบไหมคะ" in texts(fake_telegram.sent_to(CHAT))


def test_a_poster_link_opens_the_chat_at_the_survey(telegram_app, fake_telegram):
    """`flask telegram link --keyword ประเมิน` prints the t.me link a QR code can carry."""
    result = telegram_app.test_cli_runner().invoke(args=["telegram", "link", "--keyword", "ประเมิน"])
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith("https://t.me/lampang_survey_bot?start=")
    assert read_payload(link.rsplit("=", 1)[1]) == ("keyword", "ประเมิน")


def test_erasure_on_telegram_says_goodbye_and_leaves_no_chat_id(telegram_app, fake_telegram):
    """Telegram has no reply token: the goodbye goes to the chat, whose id is then wiped too."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    asked = user.say("ลบข้อมูลของฉัน")
    assert "ต้องการลบไหมคะ" in texts(asked)
    assert "ลบข้อมูลของคุณหมดแล้วค่ะ" in texts(user.tap("ลบข้อมูลทั้งหมด"))
    with telegram_app.extensions["runtime"].db() as session:
        assert session.scalar(select(func.count()).select_from(Respondent)) == 0
        addresses = session.scalars(select(OutboxMessage.address)).all()
        assert addresses and str(CHAT) not in addresses


def test_no_log_line_carries_the_token_or_the_chat_id(telegram_app, fake_telegram, caplog) -> None:
    """httpx logs every request's URL, and a Bot API URL holds the token: not in our logs."""
    caplog.set_level("INFO")
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    user.say("สำรวจ")
    user.say("17")
    logged = "\n".join(repr(vars(record)) for record in caplog.records)
    assert caplog.records  # the turns were logged
    for secret in (fake_telegram.token, str(CHAT)):  # answers: see test_erasure.py
        assert secret not in logged, secret


def test_a_chat_that_no_longer_exists_is_marked_unreachable(telegram_app, fake_telegram):
    """ "chat not found" (a deleted account): the message fails and nothing more is pushed."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    fake_telegram.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    user.say("ช่วยเหลือ")
    assert not _reachable(telegram_app)
    with telegram_app.extensions["runtime"].db() as session:
        failed = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "failed")
        ).all()
        assert failed and "chat not found" in failed[0].last_error.lower()


LONG_TEXT = "ข้อความยาว 😊 " * 800


def test_a_long_message_refused_midway_goes_on_from_the_refused_part(
    telegram_app, fake_telegram, clock
):
    """Telegram takes part 1 of a long message and refuses part 2 with a 429: the retry
    starts at part 2, so the respondent reads every part once, in order."""
    runtime = telegram_app.extensions["runtime"]
    with runtime.db.begin() as session:
        add_messages(session, None, "telegram", str(CHAT), [{"text": LONG_TEXT}], clock.now)
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1, after=1)
    deliver(runtime, clock.now)
    assert len(fake_telegram.sent_to(CHAT)) == 1
    clock.advance(seconds=5)
    deliver(runtime, clock.now)
    # Telegram trims the spaces around a text
    expected = [part["text"].strip() for part in telegram_messages({"text": LONG_TEXT}, 0)]
    assert len(expected) > 2
    assert [message["text"] for message in fake_telegram.sent_to(CHAT)] == expected


def test_a_sender_taking_over_a_long_message_repeats_no_confirmed_part(
    telegram_app, fake_telegram, clock
):
    """A sender died while part 2 of a long message was with Telegram: the one that takes the
    message over sends part 2 again (it may not have arrived) and the rest, not part 1."""
    from bot.delivery import LEASE, claim, note_try
    from bot.telegram.delivery import part_tried

    runtime = telegram_app.extensions["runtime"]
    with runtime.db.begin() as session:
        add_messages(session, None, "telegram", str(CHAT), [{"text": LONG_TEXT}], clock.now)
    (dead,) = claim(runtime.db, clock.now)
    assert note_try(runtime.db, [dead], part_tried(dead.id, 1), clock.now)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    deliver(runtime, clock.now)
    # Telegram trims the spaces around a text
    expected = [part["text"].strip() for part in telegram_messages({"text": LONG_TEXT}, 0)]
    assert [message["text"] for message in fake_telegram.sent_to(CHAT)] == expected[1:]


def test_one_chats_pace_holds_back_no_other_chat(telegram_app, fake_telegram, clock):
    """Three messages wait for one chat and one for another: the other chat's message goes
    with the first, not after the first chat's one-a-second pace has let all three through."""
    runtime = telegram_app.extensions["runtime"]
    with runtime.db.begin() as session:
        add_messages(
            session, None, "telegram", "601", [{"text": f"A{n}"} for n in (1, 2, 3)], clock.now
        )
        add_messages(session, None, "telegram", "602", [{"text": "B1"}], clock.now)
    deliver(runtime, clock.now)
    arrived = [call.params["text"] for call in fake_telegram.calls("sendMessage")]
    # before A3, two seconds of A's pace on: B1 waited for none of it (before A2, one second
    # on, is what an idle machine shows, but a loaded CI machine can take a second to start B)
    assert arrived.index("B1") < arrived.index("A3")
    assert [text for text in arrived if text.startswith("A")] == ["A1", "A2", "A3"]


def test_a_long_retry_after_is_waited_out_in_full_by_every_chat(telegram_app, fake_telegram, clock):
    """Telegram asks for ten minutes' quiet: neither that message nor one to another chat is
    tried sooner (an ordinary backoff is capped at five), and both go once it is over."""
    runtime = telegram_app.extensions["runtime"]
    with runtime.db.begin() as session:
        add_messages(session, None, "telegram", str(CHAT), [{"text": "แจ้งข่าวค่ะ"}], clock.now)
    fake_telegram.fail_next("sendMessage", status=429, retry_after=600)
    deliver(runtime, clock.now)
    with runtime.db.begin() as session:
        add_messages(session, None, "telegram", "602", [{"text": "ข่าวอีกเรื่องค่ะ"}], clock.now)
    clock.advance(seconds=599)
    deliver(runtime, clock.now)
    assert len(fake_telegram.calls("sendMessage")) == 1  # only the refused one
    clock.advance(seconds=2)
    while deliver(runtime, clock.now):
        pass
    assert texts(fake_telegram.sent_to(CHAT)) == "แจ้งข่าวค่ะ"
    assert texts(fake_telegram.sent_to(602)) == "ข่าวอีกเรื่องค่ะ"


MARKETING = "การพัฒนาผู้ประกอบการสร้างสรรค์ด้านการตลาดบนสื่อออนไลน์และโซเชียลมีเดีย"


def open_marketing(user: TelegramUser) -> list[dict]:
    """The workshop list, then the two-seat online-marketing workshop in it."""
    listed = user.say("/workshops")
    number = listed_numbers([{"text": texts(listed)}], MARKETING)[0]
    label = next(b for b in buttons_of(listed[-1]) if b.startswith(f"{number}. "))
    return user.tap(label)


def test_a_seat_the_waitlist_check_in_and_feedback_through_telegram(
    telegram_app, fake_telegram, clock
):
    """The life of a workshop seat as three drivers on Telegram see it: two seats taken, a
    waitlist, a cancellation that promotes and tells the next in line, the reminder, the
    check-in word at the door, and the feedback asked for afterwards."""
    first, second, third = (TelegramUser(telegram_app, fake_telegram, 601 + n) for n in range(3))
    for user in (first, second, third):
        user.onboard()
    assert "ยังว่าง 2 ที่" in texts(open_marketing(first))
    assert "ลงทะเบียนเรียบร้อย" in texts(first.tap("ลงทะเบียน"))
    open_marketing(second)
    second.tap("ลงทะเบียน")
    assert "เต็มแล้ว" in texts(open_marketing(third))
    assert "คิวสำรองลำดับที่ 1" in texts(third.tap("ต่อคิวสำรอง"))

    assert MARKETING in texts(first.say("การลงทะเบียนของฉัน"))
    assert "ใช่ไหมคะ" in texts(first.tap("ยกเลิกรอบที่ 1"))
    told = len(fake_telegram.sent_to(third.chat_id))
    assert "ให้แล้วค่ะ" in texts(first.tap("ยืนยันยกเลิก"))
    deliver(telegram_app.extensions["runtime"], clock.now)
    assert "ข่าวดีค่ะ" in texts(fake_telegram.sent_to(third.chat_id)[told:])

    runtime = telegram_app.extensions["runtime"]
    with runtime.db() as session:
        workshop = session.scalars(select(Workshop).where(Workshop.capacity == 2)).one()
    reminded = len(fake_telegram.sent_to(second.chat_id))
    clock.now = workshop.starts_at - timedelta(hours=2)
    deliver(runtime, clock.now)
    assert "อีกไม่นานจะเริ่มอบรม" in texts(fake_telegram.sent_to(second.chat_id)[reminded:])
    clock.now = workshop.starts_at + timedelta(minutes=10)
    assert "เช็กอินเรียบร้อย" in texts(second.say(" กองต้า "))
    clock.now = workshop.ends_at + timedelta(hours=1, minutes=1)
    asked = len(fake_telegram.sent_to(second.chat_id))
    invite_to_feedback(runtime, clock.now)
    deliver(runtime, clock.now)
    assert "ให้คะแนนการอบรมครั้งนี้" in texts(fake_telegram.sent_to(second.chat_id)[asked:])
    second.tap("5")
    assert "ขอบคุณมากค่ะ" in texts(second.say("อยากให้มีรอบค่ำด้วย"))
    with runtime.db() as session:
        feedback = session.scalars(select(Feedback)).one()
        assert (feedback.rating, feedback.comment) == (5, "อยากให้มีรอบค่ำด้วย")


def test_my_data_english_and_withdrawn_consent_through_telegram(telegram_app, fake_telegram):
    """/mydata shows what is kept, with Buddhist-Era dates; withdrawing consent is confirmed and
    offers erasure, and consent can be given again; /language then switches to English."""
    user = TelegramUser(telegram_app, fake_telegram)
    user.onboard()
    shown = texts(user.say("/mydata"))
    assert "คนขับรถม้า · เทศบาลนครลำปาง" in shown and "ให้ความยินยอมเมื่อ" in shown
    assert "2569" in shown
    user.say("ถอนความยินยอม")
    done = user.tap("ถอนความยินยอม")
    assert "ถอนความยินยอมแล้ว" in texts(done)
    assert buttons_of(done[-1]) == ["ลบข้อมูลทั้งหมด"]
    with telegram_app.extensions["runtime"].db() as session:
        assert session.scalars(select(Respondent.consent_withdrawn)).one() is True
    assert "คุณยินยอมให้เราเก็บคำตอบไหมคะ" in texts(user.say("สวัสดี"))
    user.tap("ยินยอม")
    assert "Switched to English." in texts(user.say("/language"))
    assert "You can type these at any time" in texts(user.say("/help"))


def test_the_card_as_html_escapes_everything_but_its_bold(telegram_app) -> None:
    """A card whose words hold markup characters: they arrive as typed, only the score lines
    are bold."""
    payload = {
        "text": "ผล <ของคุณ> & เพื่อน\n\nทัศนคติ 3.0\n█████░░░░░\n<b>ไม่หนา</b>",
        "card": {"bars": [{"label": "ทัศนคติ", "score": 3.0}]},
    }
    (message,) = telegram_messages(payload, row_id=1)
    assert message["parse_mode"] == "HTML"
    assert message["text"] == (
        "ผล &lt;ของคุณ&gt; &amp; เพื่อน\n\n<b>ทัศนคติ 3.0</b>\n█████░░░░░\n&lt;b&gt;ไม่หนา&lt;/b&gt;"
    )


def test_a_group_that_became_a_supergroup_is_not_chased(telegram_app, fake_telegram, clock):
    """The group's one note finds the group upgraded to a supergroup: it is given up at once,
    not tried again eight times, and nothing else is held up."""
    runtime = telegram_app.extensions["runtime"]
    group = -4001234
    update = fake_telegram.group_message_update(group, CHAT, "สวัสดีค่ะ")
    fake_telegram.upgrade_group(group)
    assert TelegramUser(telegram_app, fake_telegram).post(update).status_code == 200
    deliver(runtime, clock.now)
    clock.advance(minutes=30)
    deliver(runtime, clock.now)
    assert len(fake_telegram.calls("sendMessage")) == 1
    with runtime.db() as session:
        note = session.scalars(select(OutboxMessage)).one()
    assert note.status == "failed" and "supergroup" in (note.last_error or "")
