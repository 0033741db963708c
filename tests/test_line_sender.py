"""LineSender against the fake LINE API: every answer LINE can give maps to the right outcome."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import TYPE_CHECKING

import pytest

from bot.line.sender import LineApiError, LineSender, Outcome, data_host_for
from tests.test_fake_line import MENU

if TYPE_CHECKING:
    from tests.fake_line import FakeLine

# Loads the `fake_line` fixture as a plugin (with assertion rewriting), whatever conftest.py does.
pytest_plugins = ["tests.fake_line"]

USER = "U4af4980629e0c1bd7c5c4d13d7dc0bb1"
TEXT = {"type": "text", "text": "ขอบคุณที่ตอบแบบสำรวจครับ"}
TIMEOUT = 0.5


@pytest.fixture
def sender(fake_line: FakeLine) -> Iterator[LineSender]:
    """A sender aimed at the fake, with a short timeout so slow answers cost little."""
    line = LineSender(fake_line.base_url, fake_line.token, timeout=TIMEOUT)
    yield line
    line.close()


def key() -> str:
    """A fresh retry key, as the outbox stores one per row."""
    return str(uuid.uuid4())


def test_a_reply_is_sent_and_reaches_the_user(fake_line: FakeLine, sender: LineSender):
    token = fake_line.issue_reply_token(USER)

    result = sender.reply(token, [TEXT])

    assert result.outcome is Outcome.SENT
    [recorded] = fake_line.replies()
    assert recorded.json["replyToken"] == token
    assert fake_line.messages_to(USER) == [TEXT]


def test_quick_replies_survive_the_sdk_models(fake_line: FakeLine, sender: LineSender):
    message = {
        "type": "text",
        "text": "พอใจไหมครับ",
        "quickReply": {
            "items": [
                {
                    "type": "action",
                    "action": {
                        "type": "postback",
                        "label": "พอใจ",
                        "data": "a=1",
                        "displayText": "พอใจ",
                    },
                }
            ]
        },
    }

    assert sender.reply(fake_line.issue_reply_token(USER), [message]).outcome is Outcome.SENT
    assert fake_line.messages_to(USER) == [message]


def test_an_expired_or_used_reply_token_gives_token_invalid(
    fake_line: FakeLine, sender: LineSender
):
    expired = fake_line.issue_reply_token(USER)
    fake_line.expire_reply_tokens()
    used = fake_line.issue_reply_token(USER)
    sender.reply(used, [TEXT])

    for token in (expired, used):
        result = sender.reply(token, [TEXT])
        assert result.outcome is Outcome.TOKEN_INVALID
        assert result.detail == "400 Invalid reply token"
    assert fake_line.messages_to(USER) == [TEXT]


def test_a_reply_refused_for_its_content_fails_rather_than_blaming_the_token(
    fake_line: FakeLine, sender: LineSender
):
    too_long = {"type": "text", "text": "ก" * 5001}

    result = sender.reply(fake_line.issue_reply_token(USER), [too_long])

    assert result.outcome is Outcome.FAILED
    assert "messages[0].text: Length must be between 0 and 5000" in result.detail


def test_a_push_carries_its_retry_key_and_the_access_token(fake_line: FakeLine, sender: LineSender):
    retry_key = key()

    assert sender.push(USER, [TEXT], retry_key).outcome is Outcome.SENT

    [recorded] = fake_line.pushes()
    assert recorded.headers["x-line-retry-key"] == retry_key
    assert recorded.headers["authorization"] == f"Bearer {fake_line.token}"
    assert recorded.json["to"] == USER


def test_the_same_push_twice_is_sent_both_times_but_delivered_once(
    fake_line: FakeLine, sender: LineSender
):
    retry_key = key()

    first = sender.push(USER, [TEXT], retry_key)
    second = sender.push(USER, [TEXT], retry_key)

    assert first.outcome is second.outcome is Outcome.SENT
    assert second.detail.startswith("409")
    assert fake_line.messages_to(USER) == [TEXT]


def test_a_multicast_reaches_everyone_once_per_retry_key(fake_line: FakeLine, sender: LineSender):
    users = [USER, "U" + "0" * 32]
    retry_key = key()

    assert sender.multicast(users, [TEXT], retry_key).outcome is Outcome.SENT
    assert sender.multicast(users, [TEXT], retry_key).outcome is Outcome.SENT

    assert [fake_line.messages_to(user) for user in users] == [[TEXT], [TEXT]]


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_rate_limits_and_server_errors_are_retried(
    fake_line: FakeLine, sender: LineSender, status: int
):
    fake_line.fail_next(status)

    result = sender.push(USER, [TEXT], key())

    assert result.outcome is Outcome.RETRY
    assert result.detail.startswith(str(status))
    assert result.retry_after is None
    assert fake_line.messages_to(USER) == []


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0.5", 0.5), ("soon", None)])
def test_a_retry_after_header_in_seconds_is_passed_on(
    fake_line: FakeLine, sender: LineSender, header: str, expected: float | None
):
    fake_line.fail_next(429, headers={"Retry-After": header})

    result = sender.push(USER, [TEXT], key())

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == expected
    assert result.detail == "429 The API rate limit has been exceeded. Try again later."


def test_a_retry_after_header_as_a_date_is_passed_on(fake_line: FakeLine, sender: LineSender):
    fake_line.fail_next(503, headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})

    result = sender.push(USER, [TEXT], key())

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == pytest.approx(30, abs=2)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "The request body has 1 error(s)"),
        (403, "Access to this API is not available for your account"),
        (404, "Not found"),
    ],
)
def test_client_errors_fail_with_status_and_lines_message(
    fake_line: FakeLine, sender: LineSender, status: int, message: str
):
    fake_line.fail_next(status)

    result = sender.push(USER, [TEXT], key())

    assert result.outcome is Outcome.FAILED
    assert result.detail == f"{status} {message}"


def test_a_wrong_access_token_fails(fake_line: FakeLine):
    result = LineSender(fake_line.base_url, "revoked-token").push(USER, [TEXT], key())

    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith("401 Authentication failed")


def test_line_validation_details_reach_the_detail(fake_line: FakeLine, sender: LineSender):
    apples = {"type": "text", "text": "🍎" * 2501}

    result = sender.push(USER, [apples], key())

    assert result.outcome is Outcome.FAILED
    assert result.detail == (
        "400 The request body has 1 error(s): messages[0].text: Length must be between 0 and 5000"
    )


def test_a_message_the_sdk_cannot_model_fails_without_a_request(
    fake_line: FakeLine, sender: LineSender
):
    for broken in ({"text": "no type"}, {"type": "no-such-type"}, {"type": "text"}):
        result = sender.push(USER, [broken], key())
        assert result.outcome is Outcome.FAILED
        assert result.detail.startswith("invalid message")
    assert fake_line.requests == []


def test_a_slow_answer_is_a_quick_retry_and_the_retry_is_not_delivered_twice(
    fake_line: FakeLine, sender: LineSender
):
    retry_key = key()
    # The fake accepts the push, then holds its answer past the client's timeout: the case
    # LINE's retry key exists for.
    fake_line.delay_next(TIMEOUT + 5)

    started = time.monotonic()
    result = sender.push(USER, [TEXT], retry_key)
    elapsed = time.monotonic() - started

    assert result.outcome is Outcome.RETRY
    assert result.detail.startswith("network: ReadTimeoutError")
    assert elapsed < TIMEOUT + 1
    fake_line.wait_for_messages(1)
    assert sender.push(USER, [TEXT], retry_key).outcome is Outcome.SENT
    assert fake_line.messages_to(USER) == [TEXT]


def test_an_unreachable_api_is_a_retry(fake_line: FakeLine, sender: LineSender):
    fake_line.stop()

    result = sender.push(USER, [TEXT], key())

    assert result.outcome is Outcome.RETRY
    assert result.detail.startswith("network:")


def test_one_sender_serves_many_threads(fake_line: FakeLine, sender: LineSender):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: sender.push(_user(n % 4), [TEXT], key()), range(40)))

    assert {result.outcome for result in results} == {Outcome.SENT}
    fake_line.wait_for_messages(40)
    assert sum(len(fake_line.messages_to(_user(n))) for n in range(4)) == 40


def _user(number: int) -> str:
    """A user id as LINE spells one: "U" and 32 characters."""
    return "U" + str(number).rjust(32, "0")


def test_create_rich_menu_creates_uploads_and_sets_the_default(
    fake_line: FakeLine, sender: LineSender
):
    image = b"\x89PNG\r\n\x1a\n" + bytes(64)

    menu_id = sender.create_rich_menu(MENU, image)

    assert fake_line.rich_menus[menu_id]["chatBarText"] == "เมนู"
    assert fake_line.rich_menu_images[menu_id] == ("image/png", image)
    assert fake_line.default_rich_menu == menu_id
    assert [(r.method, r.path) for r in fake_line.requests] == [
        ("POST", "/v2/bot/richmenu"),
        ("POST", f"/v2/bot/richmenu/{menu_id}/content"),
        ("POST", f"/v2/bot/user/all/richmenu/{menu_id}"),
    ]


def test_a_rich_menu_whose_image_is_refused_is_deleted_again(
    fake_line: FakeLine, sender: LineSender
):
    fake_line.fail_next(500, path_contains="/content")

    with pytest.raises(LineApiError, match="500") as raised:
        sender.create_rich_menu(MENU, b"\x89PNG")

    assert raised.value.result.outcome is Outcome.RETRY
    assert fake_line.rich_menus == {}
    assert fake_line.default_rich_menu is None
    assert fake_line.requests[-1].method == "DELETE"


def test_uploads_go_to_lines_data_host_only_in_production():
    assert data_host_for("https://api.line.me") == "https://api-data.line.me"
    assert data_host_for("https://api.line.me/") == "https://api-data.line.me"
    assert data_host_for("http://127.0.0.1:8765") == "http://127.0.0.1:8765"
