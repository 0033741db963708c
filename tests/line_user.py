"""A LINE user for tests: signed webhook events in, what the fake LINE API delivered out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot import create_app
from bot.delivery import deliver

SECRET = "test-channel-secret"
USER = "U" + "a" * 32


def app_with_line(database_url, clock, fake_line, **config: Any) -> Iterator[Flask]:
    """The app wired to the fake LINE API, with the demo content loaded."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": fake_line.token,
            "PUBLIC_BASE_URL": "https://bot.example.org",
            "LINE_API_BASE_URL": fake_line.base_url,
            **config,
        }
    )
    assert app.test_cli_runner().invoke(args=["load-demo"]).exit_code == 0
    yield app
    app.extensions["runtime"].close()


@pytest.fixture
def line_app(database_url, clock, fake_line):
    """The app wired to the fake LINE API, sending only when the test says so."""
    yield from app_with_line(
        database_url, clock, fake_line, TESTING=True, DELIVER_AFTER_COMMIT=False
    )


@pytest.fixture
def sending_line_app(database_url, clock, fake_line):
    """The app wired to the fake LINE API, sending replies itself right after commit."""
    yield from app_with_line(database_url, clock, fake_line)


class LineUser:
    """A LINE user whose phone sends signed webhook events and shows what the bot sent back."""

    def __init__(self, app: Flask, fake_line, user_id: str = USER):
        self.app, self.fake, self.user_id = app, fake_line, user_id
        self.client = app.test_client()

    def post(self, *events: dict[str, Any], signature: str | None = None):
        """Deliver events the way LINE does, with a valid signature unless told otherwise."""
        body = json.dumps({"destination": "Ubot", "events": list(events)}).encode()
        headers = {"X-Line-Signature": signature if signature is not None else sign(body)}
        return self.client.post("/webhooks/line", data=body, headers=headers)

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A LINE event from this user, with a fresh event id (and reply token, as LINE gives)."""
        event = {
            "type": kind,
            "mode": "active",
            "timestamp": 1700000000000,
            "source": {"type": "user", "userId": self.user_id},
            "webhookEventId": uuid.uuid4().hex,
            "deliveryContext": {"isRedelivery": False},
            **fields,
        }
        if kind == "follow":
            event.setdefault("follow", {"isUnblocked": False})
        if kind != "unfollow":  # LINE sends no reply token with an unfollow
            event["replyToken"] = self.fake.issue_reply_token(self.user_id)
        return event

    def send(self, event: dict[str, Any]) -> list[dict]:
        """Post one event, let the outbox deliver, and return the LINE messages that arrived."""
        before = len(self.fake.messages_to(self.user_id))
        assert self.post(event).status_code == 200
        deliver(self.app.extensions["runtime"], self.app.extensions["runtime"].clock())
        return self.fake.messages_to(self.user_id)[before:]

    def say(self, text: str) -> list[dict]:
        """Type text in the chat."""
        return self.send(self.event("message", message=text_message(text)))

    def tap(self, label: str) -> list[dict]:
        """Tap the button with this label on the last message received."""
        actions = button_actions(self.fake.messages_to(self.user_id)[-1])
        action = next(a for a in actions if a["label"] == label)
        assert len(action["data"].encode()) <= 64  # would fit Telegram's callback_data too
        return self.send(self.event("postback", postback={"data": action["data"]}))

    def onboard(self) -> None:
        """Follow the bot, consent, and give the profile (carriage driver, Lampang city)."""
        self.send(self.event("follow"))
        self.tap("ยินยอม")
        self.tap("คนขับรถม้า")
        self.tap("เทศบาลนครลำปาง")

    def quick_replies(self) -> list[str]:
        """Labels of the buttons on the last message received."""
        return [
            action["label"] for action in button_actions(self.fake.messages_to(self.user_id)[-1])
        ]


def button_actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions of a message's buttons: its quick replies, or the buttons stacked in its bubble."""
    if "quickReply" in message:
        return [item["action"] for item in message["quickReply"]["items"]]
    if message.get("type") == "flex":
        body = message["contents"].get("body", {}).get("contents", [])
        return [part["action"] for part in body if part.get("type") == "button"]
    return []


def text_message(text: str) -> dict[str, Any]:
    """A LINE text message content."""
    return {"type": "text", "id": uuid.uuid4().hex[:12], "text": text, "quoteToken": "q"}


def sign(body: bytes) -> str:
    """The X-Line-Signature LINE computes for a body (HMAC-SHA256 with the channel secret)."""
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def count(app: Flask, model) -> int:
    """How many rows a table has."""
    with app.extensions["runtime"].db() as session:
        return session.scalar(select(func.count()).select_from(model))


def text_of(messages: list[dict]) -> str:
    """All the text LINE would show for some messages."""
    return "\n".join(m.get("text") or m.get("altText", "") for m in messages)


def lost_and_doubled(database_url: str, fake, users: list[str]) -> tuple[int, int]:
    """LINE messages the outbox holds for these users that never arrived (or were never sent),
    and those that arrived more than once: compared message by message, as LINE renders them."""
    from bot.line.render import line_messages
    from tests.outbox_tally import lost_and_doubled as tally

    def as_seen(message: dict) -> str:
        return json.dumps(message, sort_keys=True, ensure_ascii=False)

    return tally(
        database_url,
        users,
        lambda payload, row_id: map(
            as_seen, line_messages(payload, row_id, payload.get("offset", 0))
        ),
        lambda user: map(as_seen, fake.messages_to(user)),
    )
