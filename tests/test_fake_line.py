"""The fake LINE API keeps LINE's rules, checked over plain HTTP with urllib."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.fake_line import FakeLine

# Loads the `fake_line` fixture as a plugin (with assertion rewriting), whatever conftest.py does.
pytest_plugins = ["tests.fake_line"]

TEXT = {"type": "text", "text": "สวัสดีครับ"}
#: Two users as LINE spells them: "U" and 32 characters.
ALICE, BOB = "U" + "1" * 32, "U" + "2" * 32


def call(
    fake: FakeLine,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = "",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, str], Any]:
    """One request to the fake: status, lower-cased response headers and the JSON answer."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(fake.base_url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token or fake.token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, answer_headers, answer = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, answer = error.code, error.headers, error.read()
    lowered = {name.lower(): value for name, value in answer_headers.items()}
    return status, lowered, json.loads(answer)


def push(fake: FakeLine, to: str, messages: list[dict], key: str | None = None, **kwargs: Any):
    """A push, with a retry key header when one is given."""
    headers = {"X-Line-Retry-Key": key} if key else {}
    return call(
        fake,
        "POST",
        "/v2/bot/message/push",
        {"to": to, "messages": messages},
        headers=headers,
        **kwargs,
    )


def reply(fake: FakeLine, token: str, messages: list[dict]):
    """A reply with the given reply token."""
    return call(fake, "POST", "/v2/bot/message/reply", {"replyToken": token, "messages": messages})


def test_every_request_needs_the_channel_access_token(fake_line: FakeLine):
    status, _, answer = push(fake_line, ALICE, [TEXT], token=None)
    assert status == 401
    assert answer["message"].startswith("Authorization header required")

    status, _, answer = push(fake_line, ALICE, [TEXT], token="someone-elses-token")
    assert status == 401
    assert answer["message"].startswith("Authentication failed")

    assert fake_line.messages_to(ALICE) == []
    assert [r.status for r in fake_line.requests] == [401, 401]


def test_a_reply_token_works_once_and_delivers_to_its_user(fake_line: FakeLine):
    token = fake_line.issue_reply_token(ALICE)

    status, headers, answer = reply(
        fake_line, token, [TEXT, {"type": "sticker", "packageId": "1", "stickerId": "1"}]
    )
    assert status == 200
    assert len(answer["sentMessages"]) == 2
    assert {"id", "quoteToken"} <= answer["sentMessages"][0].keys()
    assert headers["x-line-request-id"]

    status, _, answer = reply(fake_line, token, [TEXT])
    assert (status, answer) == (400, {"message": "Invalid reply token"})
    assert fake_line.messages_to(ALICE) == [
        TEXT,
        {"type": "sticker", "packageId": "1", "stickerId": "1"},
    ]
    assert fake_line.messages_to(BOB) == []


def test_reply_tokens_expire_after_sixty_seconds_of_the_fakes_clock(fake_line: FakeLine):
    fresh = fake_line.issue_reply_token(ALICE)
    fake_line.advance_clock(59)
    assert reply(fake_line, fresh, [TEXT])[0] == 200

    stale = fake_line.issue_reply_token(ALICE)
    fake_line.advance_clock(61)
    assert reply(fake_line, stale, [TEXT])[2] == {"message": "Invalid reply token"}

    expired = fake_line.issue_reply_token(ALICE)
    fake_line.expire_reply_tokens()
    assert reply(fake_line, expired, [TEXT])[0] == 400
    assert reply(fake_line, "never-issued", [TEXT])[0] == 400
    assert len(fake_line.messages_to(ALICE)) == 1


@pytest.mark.parametrize("count", [0, 6])
def test_a_reply_carries_one_to_five_messages_and_a_refusal_keeps_the_token(
    fake_line: FakeLine, count: int
):
    token = fake_line.issue_reply_token(ALICE)

    status, _, answer = reply(fake_line, token, [TEXT] * count)
    assert status == 400
    assert answer["details"] == [
        {"message": "Size must be between 1 and 5", "property": "messages"}
    ]

    assert reply(fake_line, token, [TEXT] * 5)[0] == 200


@pytest.mark.parametrize(
    ("message", "problem", "where"),
    [
        ({"text": "no type"}, "Must be one of the following values", "messages[0].type"),
        ({"type": "text", "text": ""}, "May not be empty", "messages[0].text"),
        # LINE counts UTF-16 code units: 2500 apples and one letter are 5001 of them.
        (
            {"type": "text", "text": "🍎" * 2500 + "a"},
            "Length must be between 0 and 5000",
            "messages[0].text",
        ),
        (
            {
                "type": "text",
                "text": "เลือก",
                "quickReply": {
                    "items": [
                        {
                            "type": "action",
                            "action": {"type": "message", "label": str(i), "text": str(i)},
                        }
                        for i in range(14)
                    ]
                },
            },
            "Size must be between 0 and 13",
            "messages[0].quickReply.items",
        ),
    ],
)
def test_message_objects_are_validated(
    fake_line: FakeLine, message: dict, problem: str, where: str
):
    status, _, answer = push(fake_line, ALICE, [message])

    assert status == 400
    assert answer["message"] == "The request body has 1 error(s)"
    [detail] = answer["details"]
    assert detail["message"].startswith(problem)
    assert detail["property"] == where
    assert fake_line.messages_to(ALICE) == []


def test_text_of_exactly_five_thousand_utf16_units_is_accepted(fake_line: FakeLine):
    assert push(fake_line, ALICE, [{"type": "text", "text": "🍎" * 2500}])[0] == 200


def test_a_retry_key_must_be_a_uuid_and_is_refused_where_retries_are_unsupported(
    fake_line: FakeLine,
):
    assert push(fake_line, ALICE, [TEXT], key="not-a-uuid")[0] == 400

    token = fake_line.issue_reply_token(ALICE)
    status, _, _ = call(
        fake_line,
        "POST",
        "/v2/bot/message/reply",
        {"replyToken": token, "messages": [TEXT]},
        headers={"X-Line-Retry-Key": str(uuid.uuid4())},
    )
    assert status == 400
    assert fake_line.messages_to(ALICE) == []


def test_a_retried_push_gets_409_and_is_not_delivered_again(fake_line: FakeLine):
    key = str(uuid.uuid4())

    first_status, first_headers, first = push(fake_line, ALICE, [TEXT], key)
    second_status, second_headers, second = push(fake_line, ALICE, [TEXT], key)

    assert first_status == 200
    assert second_status == 409
    assert second["message"] == "The retry key is already accepted"
    assert second["sentMessages"] == first["sentMessages"]
    assert second_headers["x-line-accepted-request-id"] == first_headers["x-line-request-id"]
    assert second_headers["x-line-request-id"] != first_headers["x-line-request-id"]
    assert fake_line.messages_to(ALICE) == [TEXT]
    # Another key is another request.
    assert push(fake_line, ALICE, [TEXT], str(uuid.uuid4()))[0] == 200
    assert len(fake_line.messages_to(ALICE)) == 2


def test_a_refused_request_does_not_use_up_its_retry_key(fake_line: FakeLine):
    key = str(uuid.uuid4())
    fake_line.fail_next(500)

    assert push(fake_line, ALICE, [TEXT], key)[0] == 500
    assert push(fake_line, ALICE, [TEXT], key)[0] == 200
    assert fake_line.messages_to(ALICE) == [TEXT]


def test_multicast_delivers_to_each_user_once_per_retry_key(fake_line: FakeLine):
    key = str(uuid.uuid4())
    body = {"to": [ALICE, BOB], "messages": [TEXT]}

    status, headers, answer = call(
        fake_line, "POST", "/v2/bot/message/multicast", body, headers={"X-Line-Retry-Key": key}
    )
    assert (status, answer) == (200, {})
    assert headers["x-line-request-id"]
    status, headers, answer = call(
        fake_line, "POST", "/v2/bot/message/multicast", body, headers={"X-Line-Retry-Key": key}
    )
    assert status == 409
    assert answer == {"message": "The retry key is already accepted"}

    fake_line.wait_for_messages(2)
    assert fake_line.messages_to(ALICE) == fake_line.messages_to(BOB) == [TEXT]
    assert (
        call(fake_line, "POST", "/v2/bot/message/multicast", {"to": [], "messages": [TEXT]})[0]
        == 400
    )


def test_injected_failures_come_first_match_their_path_and_deliver_nothing(fake_line: FakeLine):
    fake_line.fail_next(429, count=2, path_contains="/push")

    token = fake_line.issue_reply_token(ALICE)
    assert reply(fake_line, token, [TEXT])[0] == 200
    for _ in range(2):
        status, _, answer = push(fake_line, ALICE, [TEXT])
        assert (status, answer) == (
            429,
            {"message": "The API rate limit has been exceeded. Try again later."},
        )
    assert push(fake_line, ALICE, [TEXT])[0] == 200

    assert len(fake_line.messages_to(ALICE)) == 2
    assert [r.status for r in fake_line.pushes()] == [429, 429, 200]
    assert [r.status for r in fake_line.replies()] == [200]


def test_injected_failures_even_beat_bad_credentials_and_can_carry_headers(fake_line: FakeLine):
    fake_line.fail_next(503, headers={"Retry-After": "3"})

    status, headers, _ = push(fake_line, ALICE, [TEXT], token="wrong")

    assert status == 503
    assert headers["retry-after"] == "3"


def test_a_delayed_answer_is_slow_and_only_the_next_one(fake_line: FakeLine):
    fake_line.delay_next(0.3)

    started = time.monotonic()
    assert push(fake_line, ALICE, [TEXT])[0] == 200
    slow = time.monotonic() - started
    started = time.monotonic()
    assert push(fake_line, ALICE, [TEXT])[0] == 200
    fast = time.monotonic() - started

    assert slow >= 0.3
    assert fast < 0.3


def test_wait_for_messages_wakes_on_delivery_and_fails_when_nothing_comes(fake_line: FakeLine):
    sender = threading.Thread(target=push, args=(fake_line, ALICE, [TEXT, TEXT]))
    sender.start()
    fake_line.wait_for_messages(2, timeout=5)
    sender.join()

    with pytest.raises(AssertionError, match="expected 3 delivered messages"):
        fake_line.wait_for_messages(3, timeout=0.05)


def test_requests_are_recorded_with_lower_cased_headers_and_parsed_json(fake_line: FakeLine):
    key = str(uuid.uuid4())
    push(fake_line, ALICE, [TEXT], key)

    [recorded] = fake_line.pushes()
    assert recorded.method == "POST"
    assert recorded.headers["x-line-retry-key"] == key
    assert recorded.headers["authorization"] == f"Bearer {fake_line.token}"
    assert recorded.json == {"to": ALICE, "messages": [TEXT]}
    assert recorded.status == 200
    assert call(fake_line, "GET", "/v2/bot/no/such/api")[0] == 404


MENU = {
    "size": {"width": 2500, "height": 843},
    "selected": True,
    "name": "เมนูหลัก",
    "chatBarText": "เมนู",
    "areas": [
        {
            "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
            "action": {"type": "postback", "data": "menu=help"},
        }
    ],
}


def test_rich_menus_are_created_illustrated_made_default_listed_and_deleted(fake_line: FakeLine):
    assert call(fake_line, "POST", "/v2/bot/richmenu", {"name": "no size or areas"})[0] == 400

    status, _, answer = call(fake_line, "POST", "/v2/bot/richmenu", MENU)
    assert status == 200
    menu_id = answer["richMenuId"]
    assert re.fullmatch(r"richmenu-[0-9a-f]{32}", menu_id)
    content = f"/v2/bot/richmenu/{menu_id}/content"
    default = f"/v2/bot/user/all/richmenu/{menu_id}"

    assert call(fake_line, "POST", default)[2]["message"].startswith("must upload richmenu image")
    assert call(fake_line, "POST", content, raw=b"GIF89a", content_type="image/gif")[0] == 415
    assert (
        call(
            fake_line,
            "POST",
            "/v2/bot/richmenu/richmenu-unknown/content",
            raw=b"\x89PNG",
            content_type="image/png",
        )[0]
        == 404
    )
    assert call(fake_line, "POST", content, raw=b"\x89PNG", content_type="image/png")[0] == 200
    assert call(fake_line, "POST", content, raw=b"\x89PNG", content_type="image/png")[0] == 400
    status, _, answer = call(fake_line, "POST", default)
    assert (status, answer) == (200, {})

    assert fake_line.rich_menu_images[menu_id] == ("image/png", b"\x89PNG")
    assert fake_line.default_rich_menu == menu_id
    assert call(fake_line, "GET", "/v2/bot/user/all/richmenu")[2] == {"richMenuId": menu_id}
    assert call(fake_line, "GET", "/v2/bot/richmenu/list")[2] == {
        "richmenus": [{"richMenuId": menu_id, **MENU}]
    }

    assert call(fake_line, "DELETE", f"/v2/bot/richmenu/{menu_id}")[0] == 200
    assert call(fake_line, "DELETE", f"/v2/bot/richmenu/{menu_id}")[0] == 404
    assert call(fake_line, "GET", "/v2/bot/richmenu/list")[2] == {"richmenus": []}
    assert fake_line.default_rich_menu is None
