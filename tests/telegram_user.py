"""A Telegram user for tests: updates posted to the webhook, what the fake Bot API received."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from bot import create_app
from bot.delivery import deliver

SECRET = "test-webhook-secret_0123456789"
CHAT = 5511223344


def app_with_telegram(database_url, clock, fake_telegram, **config: Any) -> Iterator[Flask]:
    """The app wired to the fake Telegram Bot API, with the demo content loaded."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "TELEGRAM_BOT_TOKEN": fake_telegram.token,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE_URL": fake_telegram.url,
            "PUBLIC_BASE_URL": "https://bot.example.org",
            "TESTING": True,
            "DELIVER_AFTER_COMMIT": False,
            # a conversation's pace; the rate test checks Telegram's own limits
            "TELEGRAM_CHAT_INTERVAL_SECONDS": "0.01",
            **config,
        }
    )
    assert app.test_cli_runner().invoke(args=["load-demo"]).exit_code == 0
    yield app
    app.extensions["runtime"].close()


@pytest.fixture
def telegram_app(database_url, clock, fake_telegram):
    """The app wired to the fake Telegram API, sending only when the test says so."""
    yield from app_with_telegram(database_url, clock, fake_telegram)


class TelegramUser:
    """A person in a private chat with the bot: their updates in, the bot's messages out."""

    def __init__(self, app: Flask, fake, chat_id: int = CHAT):
        self.app, self.fake, self.chat_id = app, fake, chat_id

    def post(self, update: dict[str, Any], secret: str | None = SECRET):
        """POST one update to the webhook as Telegram would."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return self.app.test_client().post("/webhooks/telegram", json=update, headers=headers)

    def send(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Post an update, let the bot send, and return the messages it sent since."""
        before = len(self.fake.sent_to(self.chat_id))
        assert self.post(update).status_code == 200
        runtime = self.app.extensions["runtime"]
        deliver(runtime, runtime.clock())
        return self.fake.sent_to(self.chat_id)[before:]

    def say(self, text: str) -> list[dict[str, Any]]:
        """Type text in the chat."""
        return self.send(self.fake.text_update(self.chat_id, text))

    def tap(self, label: str) -> list[dict[str, Any]]:
        """Tap the inline button with this label on the newest message that has buttons."""
        data = next(
            button["callback_data"]
            for message in reversed(self.fake.sent_to(self.chat_id))
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
            if button["text"] == label
        )
        return self.send(self.fake.callback_update(self.chat_id, data))

    def onboard(self) -> None:
        """/start, consent, and the profile (carriage driver, Lampang city)."""
        self.send(self.fake.start_update(self.chat_id))
        self.tap("ยินยอม")
        self.tap("คนขับรถม้า")
        self.tap("เทศบาลนครลำปาง")


def texts(messages: list[dict[str, Any]]) -> str:
    """All the text the bot sent, joined."""
    return "\n".join(message.get("text", "") for message in messages)
