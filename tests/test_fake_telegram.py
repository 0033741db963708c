"""The fake Telegram Bot API keeps Telegram's rules, checked through python-telegram-bot's Bot."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TimedOut

if TYPE_CHECKING:
    from tests.fake_telegram import FakeTelegram, Recorded

# Loads the `fake_telegram` fixture as a plugin (with assertion rewriting), whatever conftest does.
# Tests that need the module itself import it inside the test: importing it at the top, before
# the plugin is loaded, would keep pytest from rewriting its asserts.

T = TypeVar("T")
CHAT = 7012345678
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("ใช่", callback_data="q1:yes"),
            InlineKeyboardButton("ไม่", callback_data="q1:no"),
        ]
    ]
)


def run(fake: FakeTelegram, scenario: Callable[[Bot], Awaitable[T]], token: str | None = None) -> T:
    """Run `scenario` with a real PTB Bot pointed at the fake (entering it calls getMe)."""

    async def main() -> T:
        async with Bot(token or fake.token, base_url=f"{fake.url}/bot") as bot:
            return await scenario(bot)

    return asyncio.run(main())


def call(
    fake: FakeTelegram,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    http_method: str = "POST",
) -> tuple[int, dict[str, Any]]:
    """One raw request with a JSON body (a query string for GET): status and parsed answer."""
    url = f"{fake.url}/bot{token or fake.token}/{method}"
    data = None
    if http_method == "GET" and params:
        url += "?" + urllib.parse.urlencode(params)
    elif params is not None:
        data = json.dumps(params).encode()
    request = urllib.request.Request(url, data=data, method=http_method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def last(fake: FakeTelegram, method: str) -> Recorded:
    """The most recent recorded call of a method."""
    return fake.calls(method)[-1]


def png(width: int, height: int) -> bytes:
    """A real PNG image of the given size."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_get_me_answers_the_bot_user(fake_telegram: FakeTelegram):
    me = run(fake_telegram, lambda bot: bot.get_me())
    assert isinstance(me, User)
    assert me.is_bot and me.username == "lampang_survey_bot"
    assert me.id == int(fake_telegram.token.split(":")[0])

    status, answer = call(fake_telegram, "getMe")
    assert status == 200 and answer["ok"] is True
    assert answer["result"]["can_join_groups"] is True


def test_method_names_are_case_insensitive_and_unknown_ones_are_404(fake_telegram: FakeTelegram):
    assert call(fake_telegram, "GETME", http_method="GET")[0] == 200
    status, answer = call(fake_telegram, "sendmessage", {"chat_id": CHAT, "text": "hi"})
    assert status == 200 and answer["result"]["text"] == "hi"
    assert last(fake_telegram, "sendMessage").method == "sendMessage"

    not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
    assert call(fake_telegram, "sendMessages", {"chat_id": CHAT, "text": "hi"}) == (404, not_found)
    # A token that is not <bot id>:<secret> is a path Telegram does not know at all.
    assert call(fake_telegram, "getMe", token="not-a-token") == (404, not_found)


def test_a_wrong_token_answers_401_which_ptb_calls_invalid(fake_telegram: FakeTelegram):
    wrong = "7212345678:AAAnotherBotsSecretEntirely_0123456789"
    unauthorized = {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert call(fake_telegram, "getMe", token=wrong) == (401, unauthorized)
    with pytest.raises(InvalidToken):
        run(fake_telegram, lambda bot: bot.get_me(), token=wrong)


def test_send_message_with_an_inline_keyboard_parses_as_a_ptb_message(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> list[Message]:
        return [
            await bot.send_message(CHAT, "ข้อ 1: สบายดีไหม?", reply_markup=KEYBOARD),
            await bot.send_message(CHAT, "ข้อ 2"),
            await bot.send_message(CHAT + 1, "สวัสดี"),
        ]

    first, second, other = run(fake_telegram, scenario)
    assert first.text == "ข้อ 1: สบายดีไหม?" and first.reply_markup == KEYBOARD
    assert first.from_user.is_bot and first.from_user.username == "lampang_survey_bot"
    assert first.chat.id == CHAT and first.chat.type == "private"
    assert abs(first.date.timestamp() - time.time()) < 60
    # Message ids count per chat.
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)

    assert [m["text"] for m in fake_telegram.sent_to(CHAT)] == ["ข้อ 1: สบายดีไหม?", "ข้อ 2"]
    recorded = fake_telegram.calls("sendMessage")[0]
    # PTB sends a form; the fake records what the Bot API reads from it.
    assert recorded.params["chat_id"] == CHAT
    assert recorded.params["reply_markup"] == KEYBOARD.to_dict()
    assert Message.de_json(recorded.answer["result"], None).reply_markup == KEYBOARD


def test_callback_data_is_1_to_64_bytes(fake_telegram: FakeTelegram):
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("ตอบ", callback_data=data)]])

    async def scenario(bot: Bot) -> None:
        await bot.send_message(CHAT, "a", reply_markup=keyboard("x" * 64))
        await bot.send_message(CHAT, "b", reply_markup=keyboard("ก" * 21))  # 63 bytes
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(CHAT, "c", reply_markup=keyboard("ก" * 22))  # 66 bytes

    run(fake_telegram, scenario)
    assert last(fake_telegram, "sendMessage").answer["description"] == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    assert len(fake_telegram.sent_to(CHAT)) == 2

    text_only = {"inline_keyboard": [[{"text": "no action"}]]}
    status, answer = call(
        fake_telegram, "sendMessage", {"chat_id": CHAT, "text": "d", "reply_markup": text_only}
    )
    assert status == 400
    assert answer["description"] == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )


def test_text_is_1_to_4096_utf16_code_units_after_parsing(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> None:
        await bot.send_message(CHAT, "🍎" * 2048)  # each emoji is two UTF-16 code units
        await bot.send_message(CHAT, "ก" * 4096)
        await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
        await bot.send_message(CHAT, "&lt;" * 4096, parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(CHAT, "🍎" * 2048 + "a")
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(CHAT, " \n ")
        trimmed = await bot.send_message(CHAT, "  สวัสดี \n")
        assert trimmed.text == "สวัสดี"

    run(fake_telegram, scenario)
    lengths = [len(m["text"].encode("utf-16-le")) // 2 for m in fake_telegram.sent_to(CHAT)]
    assert lengths[:4] == [4096, 4096, 4096, 4096]
    descriptions = [r.answer.get("description") for r in fake_telegram.calls("sendMessage")]
    assert "Bad Request: message is too long" in descriptions
    assert "Bad Request: message text is empty" in descriptions


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>ตัวหนา", 'Can\'t find end tag corresponding to start tag "b"'),
        ("ก<b>x</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_malformed_html_is_refused_with_telegrams_reason(
    fake_telegram: FakeTelegram, text: str, reason: str
):
    status, answer = call(
        fake_telegram, "sendMessage", {"chat_id": CHAT, "text": text, "parse_mode": "HTML"}
    )
    assert status == 400
    assert answer["description"] == f"Bad Request: can't parse entities: {reason}"
    assert fake_telegram.sent_to(CHAT) == []


def test_html_becomes_plain_text_and_entities_in_utf16_offsets(fake_telegram: FakeTelegram):
    html = (
        '🍎 <b>bold <i>both</i></b> <a href="https://example.org/?a=1&amp;b=2">link</a>'
        ' a & b &lt;3 &#x1F34D;\n<pre><code class="language-python">x = 1</code></pre>'
    )
    message = run(fake_telegram, lambda bot: bot.send_message(CHAT, html, parse_mode="html"))
    assert message.text == "🍎 bold both link a & b <3 🍍\nx = 1"
    entities = [(e.type, e.offset, e.length, e.url, e.language) for e in message.entities]
    assert entities == [
        ("bold", 3, 9, None, None),
        ("italic", 8, 4, None, None),
        ("text_link", 13, 4, "https://example.org/?a=1&b=2", None),
        ("pre", 30, 5, None, "python"),
    ]


def test_a_callback_query_can_be_answered_once(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(CHAT, "ข้อ 1", reply_markup=KEYBOARD)
        update = Update.de_json(fake_telegram.callback_update(CHAT, "q1:no"), bot)
        query = update.callback_query
        assert query.data == "q1:no" and query.from_user.id == CHAT
        assert (
            query.message.message_id == sent.message_id and query.message.reply_markup == KEYBOARD
        )
        assert await bot.answer_callback_query(query.id, text="บันทึกแล้ว", show_alert=True)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query.id)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query("1234567890")

    run(fake_telegram, scenario)
    answered = fake_telegram.answered_callbacks
    assert [(a["text"], a["show_alert"]) for a in answered] == [("บันทึกแล้ว", True)]
    assert last(fake_telegram, "answerCallbackQuery").answer["description"] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    # A user can only press a button the bot actually sent.
    with pytest.raises(ValueError, match="has a button"):
        fake_telegram.callback_update(CHAT, "q9:yes")


def test_edits_change_the_bots_messages_and_refuse_no_op_edits(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(CHAT, "ข้อ 1", reply_markup=KEYBOARD)
        edited = await bot.edit_message_text("ข้อ 1 ✓", CHAT, sent.message_id, reply_markup=KEYBOARD)
        assert edited.text == "ข้อ 1 ✓" and edited.edit_date is not None
        assert edited.reply_markup == KEYBOARD
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("ข้อ 1 ✓", CHAT, sent.message_id, reply_markup=KEYBOARD)
        cleared = await bot.edit_message_reply_markup(CHAT, sent.message_id)
        assert cleared.reply_markup is None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(CHAT, sent.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", CHAT, 999)
        with pytest.raises(BadRequest, match="Inline keyboard expected"):
            await bot.edit_message_reply_markup(
                CHAT, sent.message_id, reply_markup=ReplyKeyboardMarkup([["ใช่"]])
            )
        theirs = fake_telegram.text_update(CHAT, "ข้อความของผู้ใช้")["message"]["message_id"]
        with pytest.raises(BadRequest, match="Message can't be edited"):
            await bot.edit_message_text("x", CHAT, theirs)

    run(fake_telegram, scenario)
    (message,) = fake_telegram.sent_to(CHAT)
    assert message["text"] == "ข้อ 1 ✓" and "reply_markup" not in message
    assert last(fake_telegram, "editMessageReplyMarkup").answer["description"] == (
        "Bad Request: inline keyboard expected"
    )
    not_modified = fake_telegram.calls("editMessageText")[1].answer["description"]
    assert not_modified == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )


def test_edit_message_text_without_reply_markup_removes_the_keyboard(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> Message:
        sent = await bot.send_message(CHAT, "ข้อ 1", reply_markup=KEYBOARD)
        return await bot.edit_message_text("ขอบคุณ", CHAT, sent.message_id)

    assert run(fake_telegram, scenario).reply_markup is None


def test_an_injected_429_surfaces_as_retry_after_and_delivers_nothing(
    fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
):
    # PTB's future behaviour: retry_after as a timedelta, without a deprecation warning.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake_telegram.fail_next("sendMessage", 429, retry_after=7)

    async def scenario(bot: Bot) -> None:
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(CHAT, "ครั้งแรก")
        assert refused.value.retry_after == timedelta(seconds=7)
        await bot.send_message(CHAT, "ครั้งที่สอง")

    run(fake_telegram, scenario)
    assert fake_telegram.calls("sendMessage")[0].answer == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert [m["text"] for m in fake_telegram.sent_to(CHAT)] == ["ครั้งที่สอง"]


def test_a_blocked_chat_answers_403_until_unblocked(fake_telegram: FakeTelegram):
    fake_telegram.block(CHAT)

    async def scenario(bot: Bot) -> None:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "เตือนความจำ")
        with pytest.raises(Forbidden):
            await bot.send_photo(CHAT, png(64, 64))
        await bot.send_message(CHAT + 1, "other chats still work")
        fake_telegram.unblock(CHAT)
        await bot.send_message(CHAT, "กลับมาแล้ว")

    run(fake_telegram, scenario)
    assert fake_telegram.calls("sendMessage")[0].answer == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert [m["text"] for m in fake_telegram.sent_to(CHAT)] == ["กลับมาแล้ว"]


def test_injected_failures_can_target_one_chat_and_carry_a_description(fake_telegram: FakeTelegram):
    fake_telegram.fail_next(
        "SENDMESSAGE", 403, description="Forbidden: user is deactivated", chat_id=CHAT
    )

    async def scenario(bot: Bot) -> None:
        await bot.send_message(CHAT + 1, "not this chat")
        with pytest.raises(Forbidden, match="user is deactivated"):
            await bot.send_message(CHAT, "this one")
        await bot.send_message(CHAT, "only once")

    run(fake_telegram, scenario)
    assert [r.status for r in fake_telegram.calls("sendMessage")] == [200, 403, 200]


def test_a_delayed_answer_still_delivers(fake_telegram: FakeTelegram):
    fake_telegram.delay_next("sendMessage", 0.5)

    async def scenario(bot: Bot) -> None:
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "ช้า", read_timeout=0.1)

    run(fake_telegram, scenario)
    # Like Telegram when an answer is lost: the message went out although the bot timed out.
    assert [m["text"] for m in fake_telegram.sent_to(CHAT)] == ["ช้า"]


def test_an_active_webhook_makes_get_updates_a_409_conflict(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> None:
        assert await bot.set_webhook(
            "https://survey.example.org/telegram",
            secret_token="s3cret_-X",
            allowed_updates=["message"],
        )
        info = await bot.get_webhook_info()
        assert info.url == "https://survey.example.org/telegram"
        assert info.allowed_updates == ("message",)
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        assert await bot.get_updates() == ()

    run(fake_telegram, scenario)
    descriptions = [r.answer.get("description") for r in fake_telegram.requests]
    assert "Webhook was set" in descriptions and "Webhook was deleted" in descriptions


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"url": "https://a.example.org/hook", "secret_token": "a+b/c="},
            "Bad Request: secret token contains unallowed characters",
        ),
        (
            {"url": "https://a.example.org/hook", "secret_token": "a" * 257},
            "Bad Request: secret token is too long",
        ),
        (
            {"url": "http://a.example.org/hook"},
            "Bad Request: bad webhook: HTTPS url must be provided for webhook",
        ),
        (
            {"url": "https://a.example.org:8080/hook"},
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
    ],
)
def test_webhooks_need_https_a_telegram_port_and_a_plain_secret(
    fake_telegram: FakeTelegram, params: dict[str, str], description: str
):
    assert call(fake_telegram, "setWebhook", params) == (
        400,
        {"ok": False, "error_code": 400, "description": description},
    )
    assert fake_telegram.webhook is None


def test_setting_the_same_webhook_twice_and_deleting_it_twice_say_so(fake_telegram: FakeTelegram):
    hook = {"url": "https://a.example.org:8443/hook", "secret_token": "x" * 256}
    said = [
        call(fake_telegram, method, hook)[1]["description"]
        for method in ("setWebhook", "setWebhook")
    ]
    assert said == ["Webhook was set", "Webhook is already set"]
    assert fake_telegram.webhook == {**hook, "max_connections": 40}
    said = [call(fake_telegram, "deleteWebhook", {})[1]["description"] for _ in range(2)]
    assert said == ["Webhook was deleted", "Webhook is already deleted"]


def test_a_long_poll_wakes_as_soon_as_an_update_is_queued(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> tuple[tuple[Update, ...], float]:
        poll = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.to_thread(fake_telegram.wait_for_poll)
        queued_at = time.monotonic()
        fake_telegram.queue_update(fake_telegram.text_update(CHAT, "สวัสดีครับ"))
        updates = await poll
        return updates, time.monotonic() - queued_at

    updates, waited = run(fake_telegram, scenario)
    assert [u.message.text for u in updates] == ["สวัสดีครับ"]
    assert waited < 1


def test_a_long_poll_with_nothing_queued_waits_its_timeout(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> tuple[tuple[Update, ...], float]:
        started = time.monotonic()
        updates = await bot.get_updates(timeout=1)
        return updates, time.monotonic() - started

    updates, waited = run(fake_telegram, scenario)
    assert updates == () and 0.9 < waited < 3


def test_a_newer_get_updates_ends_a_waiting_one_with_a_conflict(fake_telegram: FakeTelegram):
    async def scenario(first: Bot) -> None:
        async with Bot(fake_telegram.token, base_url=f"{fake_telegram.url}/bot") as second:
            older = asyncio.create_task(first.get_updates(timeout=10))
            await asyncio.to_thread(fake_telegram.wait_for_poll)
            newer = asyncio.create_task(second.get_updates(timeout=10))
            with pytest.raises(Conflict, match="terminated by other getUpdates request"):
                await older
            fake_telegram.queue_update(fake_telegram.text_update(CHAT, "hi"))
            assert len(await newer) == 1

    run(fake_telegram, scenario)


def test_offsets_confirm_updates_and_a_negative_offset_keeps_the_last(fake_telegram: FakeTelegram):
    first, second, third = (fake_telegram.text_update(CHAT, f"m{n}") for n in range(3))
    for update in (third, first, second):  # queued out of order, delivered in update_id order
        fake_telegram.queue_update(update)

    async def scenario(bot: Bot) -> None:
        assert [u.update_id for u in await bot.get_updates()] == [
            first["update_id"],
            second["update_id"],
            third["update_id"],
        ]
        assert len(await bot.get_updates(offset=second["update_id"])) == 2
        assert await bot.get_updates(offset=third["update_id"] + 1) == ()
        fake_telegram.queue_update(fake_telegram.text_update(CHAT, "m3"))
        fake_telegram.queue_update(fake_telegram.text_update(CHAT, "m4"))
        assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["m4"]
        assert [u.message.text for u in await bot.get_updates()] == ["m4"]

    run(fake_telegram, scenario)
    with pytest.raises(ValueError, match="confirmed"):
        fake_telegram.queue_update(first)


def test_allowed_updates_keep_out_updates_the_bot_did_not_ask_for(fake_telegram: FakeTelegram):
    chat_member = {"update_id": 1, "chat_member": {}}
    assert not fake_telegram.queue_update(chat_member)  # off unless asked for
    assert fake_telegram.queue_update(fake_telegram.my_chat_member_update(CHAT, "kicked"))
    run(fake_telegram, lambda bot: bot.get_updates(allowed_updates=["message"]))
    run(fake_telegram, lambda bot: bot.send_message(CHAT + 1, "ข้อ 1", reply_markup=KEYBOARD))
    assert not fake_telegram.queue_update(fake_telegram.callback_update(CHAT + 1, "q1:yes"))
    assert fake_telegram.queue_update(fake_telegram.text_update(CHAT, "ok"))
    # allowed_updates do not touch what was queued before.
    assert [next(iter(u.keys() - {"update_id"})) for u in fake_telegram.pending_updates()] == [
        "my_chat_member",
        "message",
    ]


def test_every_update_builder_parses_with_ptb(fake_telegram: FakeTelegram):
    fake_telegram.set_user(CHAT, "Malee", username="malee_lp", language_code="th")
    run(fake_telegram, lambda bot: bot.send_message(CHAT, "ข้อ 1", reply_markup=KEYBOARD))
    said = fake_telegram.text_update(CHAT, "สวัสดี")
    built = [
        said,
        fake_telegram.start_update(CHAT, "ws-2026_11"),
        fake_telegram.start_update(CHAT),
        fake_telegram.callback_update(CHAT, "q1:yes"),
        fake_telegram.photo_update(CHAT, caption="ใบเสร็จ"),
        fake_telegram.sticker_update(CHAT),
        fake_telegram.edited_message_update(
            CHAT, "สวัสดีค่ะ", message_id=said["message"]["message_id"]
        ),
        fake_telegram.my_chat_member_update(CHAT, "kicked"),
        fake_telegram.my_chat_member_update(CHAT, "member"),
        fake_telegram.group_message_update(-1001234567890, CHAT, "/help@lampang_survey_bot"),
    ]
    bot = Bot(fake_telegram.token, base_url=f"{fake_telegram.url}/bot")
    text, start, bare, press, photo, sticker, edit, kicked, member, group = (
        Update.de_json(data, bot) for data in built
    )
    ids = [u["update_id"] for u in built]
    assert ids == sorted(set(ids))

    assert text.message.text == "สวัสดี" and text.message.from_user.username == "malee_lp"
    assert text.message.chat.type == "private" and text.effective_user.language_code == "th"
    assert start.message.text == "/start ws-2026_11"
    assert start.message.parse_entities(["bot_command"]) == {start.message.entities[0]: "/start"}
    assert bare.message.text == "/start" and bare.message.entities[0].length == 6
    assert press.callback_query.data == "q1:yes" and press.callback_query.message.from_user.is_bot
    assert photo.message.caption == "ใบเสร็จ"
    assert (photo.message.photo[-1].width, photo.message.photo[-1].height) == (1280, 960)
    assert sticker.message.sticker.emoji == "👍"
    assert edit.edited_message.text == "สวัสดีค่ะ" and edit.edited_message.edit_date is not None
    assert edit.edited_message.message_id == text.message.message_id
    assert kicked.my_chat_member.new_chat_member.status == "kicked"
    assert member.my_chat_member.old_chat_member.status == "kicked"
    assert member.my_chat_member.new_chat_member.user.id == fake_telegram.bot_id
    assert group.message.chat.type == "supergroup" and group.message.from_user.id == CHAT
    assert group.message.entities[0].length == len("/help@lampang_survey_bot")

    with pytest.raises(ValueError):
        fake_telegram.start_update(CHAT, "has spaces")


def test_a_kicked_my_chat_member_update_blocks_sends_and_member_unblocks(
    fake_telegram: FakeTelegram,
):
    fake_telegram.my_chat_member_update(CHAT, "kicked")
    with pytest.raises(Forbidden):
        run(fake_telegram, lambda bot: bot.send_message(CHAT, "x"))
    fake_telegram.my_chat_member_update(CHAT, "member")
    assert run(fake_telegram, lambda bot: bot.send_message(CHAT, "y")).text == "y"


def test_group_messages_can_be_answered_in_the_group(fake_telegram: FakeTelegram):
    group = fake_telegram.group_message_update(-4012345, CHAT, "/start")["message"]["chat"]
    assert group["type"] == "group"
    sent = run(fake_telegram, lambda bot: bot.send_message(-4012345, "สวัสดีทุกคน"))
    assert sent.chat.title == "Lampang volunteers"
    with pytest.raises(BadRequest, match="Chat not found"):
        run(fake_telegram, lambda bot: bot.send_message(-999, "no such group"))


def test_send_photo_uploads_resends_and_validates(fake_telegram: FakeTelegram):
    image = png(640, 480)
    from_user = fake_telegram.photo_update(CHAT)["message"]["photo"][-1]["file_id"]

    async def scenario(bot: Bot) -> None:
        uploaded = await bot.send_photo(CHAT, image, caption="<b>ผล</b>สำรวจ", parse_mode="HTML")
        assert [(p.width, p.height) for p in uploaded.photo] == [(90, 68), (320, 240), (640, 480)]
        assert uploaded.caption == "ผลสำรวจ" and uploaded.caption_entities[0].type == "bold"
        with pytest.raises(BadRequest, match="There is no text in the message to edit"):
            await bot.edit_message_text("x", CHAT, uploaded.message_id)
        again = await bot.send_photo(CHAT, uploaded.photo[-1].file_id)
        assert again.photo == uploaded.photo
        assert (await bot.send_photo(CHAT, from_user)).photo[-1].width == 1280
        assert (await bot.send_photo(CHAT, "https://example.org/chart.png")).photo
        with pytest.raises(BadRequest, match="Wrong file identifier"):
            await bot.send_photo(CHAT, "AgACAgUAAxkBAAIinvented")
        with pytest.raises(BadRequest, match="Message caption is too long"):
            await bot.send_photo(CHAT, image, caption="ก" * 1025)
        with pytest.raises(BadRequest, match="Image_process_failed"):
            await bot.send_photo(CHAT, b"not an image at all")

    run(fake_telegram, scenario)
    assert fake_telegram.calls("sendPhoto")[0].files["photo"].data == image
    assert len(fake_telegram.sent_to(CHAT)) == 4


def test_commands_are_kept_per_language_and_validated(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> None:
        assert await bot.set_my_commands([BotCommand("start", "Begin the survey")])
        assert await bot.set_my_commands([BotCommand("start", "เริ่มทำแบบสำรวจ")], language_code="th")
        assert [c.description for c in await bot.get_my_commands(language_code="th")] == [
            "เริ่มทำแบบสำรวจ"
        ]
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        assert await bot.get_my_commands(language_code="en") == ()
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Start", "capitals are not allowed")])
        with pytest.raises(BadRequest, match="Bot_command_description_invalid"):
            await bot.set_my_commands([BotCommand("help", "")])
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()

    run(fake_telegram, scenario)
    assert fake_telegram.commands("th") == [{"command": "start", "description": "เริ่มทำแบบสำรวจ"}]


def test_parameters_arrive_as_json_a_query_string_or_a_form(fake_telegram: FakeTelegram):
    markup = json.dumps({"inline_keyboard": [[{"text": "ใช่", "callback_data": "y"}]]})
    # Telegram reads chat_id "42" as the number and a JSON-encoded reply_markup string as JSON.
    status, answer = call(
        fake_telegram, "sendMessage", {"chat_id": "42", "text": "json", "reply_markup": markup}
    )
    assert (
        status == 200 and answer["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "ใช่"
    )
    status, answer = call(
        fake_telegram, "sendMessage", {"chat_id": 42, "text": "query"}, http_method="GET"
    )
    assert status == 200 and answer["result"]["chat"]["id"] == 42
    assert call(fake_telegram, "sendMessage", {"chat_id": "@nobody", "text": "x"})[0] == 400
    assert (
        call(fake_telegram, "sendMessage", {"text": "x"})[1]["description"]
        == "Bad Request: chat_id is empty"
    )
    assert [m["text"] for m in fake_telegram.sent_to(42)] == ["json", "query"]


def test_max_in_window_counts_the_busiest_half_open_window():
    from tests.fake_telegram import max_in_window

    assert max_in_window([], 1.0) == 0
    assert max_in_window([3.0, 0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
    # Exactly one a second never puts two in the same one-second window.
    assert max_in_window([0.0, 1.0, 2.0, 3.0], 1.0) == 1


def test_max_per_window_reads_the_arrival_timestamps_of_sends(fake_telegram: FakeTelegram):
    async def scenario(bot: Bot) -> None:
        for n in range(3):
            await bot.send_message(CHAT, f"a{n}")
        await bot.send_photo(CHAT + 1, png(32, 32))
        await bot.send_message(CHAT + 1, "b")

    run(fake_telegram, scenario)
    arrivals = [r.received_at for r in fake_telegram.requests]
    assert arrivals == sorted(arrivals)
    assert fake_telegram.max_per_window(5.0) == 5
    assert fake_telegram.max_per_window(5.0, chat_id=CHAT) == 3
    assert fake_telegram.max_per_window(5.0, chat_id=CHAT + 1) == 2
    assert fake_telegram.max_per_window(1e-9) == 1


def test_enforced_rate_limits_answer_429_per_chat_and_overall(monkeypatch: pytest.MonkeyPatch):
    from tests.fake_telegram import FakeTelegram

    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    with FakeTelegram(enforce_rate_limits=True, messages_per_second=3, chat_burst=1) as fake:

        async def scenario(bot: Bot) -> None:
            await bot.send_message(1, "first")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(1, "too soon for this chat")
            assert refused.value.retry_after == timedelta(seconds=1)
            await bot.send_message(2, "another chat")
            await bot.send_message(3, "a third")
            with pytest.raises(RetryAfter):
                await bot.send_message(4, "over three a second overall")

        run(fake, scenario)
    assert [r.status for r in fake.calls("sendMessage")] == [200, 429, 200, 200, 429]
    assert fake.calls("sendMessage")[1].answer["parameters"] == {"retry_after": 1}


def test_wait_for_sent_wakes_on_a_send_and_fails_when_nothing_comes(fake_telegram: FakeTelegram):
    with pytest.raises(AssertionError, match="expected 1 sent messages"):
        fake_telegram.wait_for_sent(1, timeout=0.05)
    sender = threading.Thread(
        target=call, args=(fake_telegram, "sendMessage", {"chat_id": 1, "text": "x"})
    )
    sender.start()
    fake_telegram.wait_for_sent(1, timeout=5)
    sender.join()


def test_stop_ends_a_waiting_long_poll():
    from tests.fake_telegram import FakeTelegram

    fake = FakeTelegram().start()
    answers: list[tuple[int, dict[str, Any]]] = []

    def poll() -> None:
        # stop() may close the connection before the empty answer is written; both are fine.
        with contextlib.suppress(OSError, http.client.HTTPException):
            answers.append(call(fake, "getUpdates", {"timeout": 30}))

    poller = threading.Thread(target=poll)
    poller.start()
    fake.wait_for_poll()
    started = time.monotonic()
    fake.stop()
    poller.join(timeout=5)
    assert not poller.is_alive() and time.monotonic() - started < 2
    assert answers in ([], [(200, {"ok": True, "result": []})])
