"""Telegram as a channel: its connection (the Bot on its loop, the webhook's secret) and its
registration."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from bot.channels import Channel, Shared
from bot.delivery import Claimed, Outcome
from bot.posters import ChatLink
from bot.telegram.cli import telegram_group
from bot.telegram.delivery import deliver_to_telegram, said
from bot.telegram.links import keyword_payload, workshop_payload
from bot.telegram.sender import PER_CHAT_SECONDS, PER_SECOND, Pace, TelegramSender
from bot.telegram.webhook import CHANNEL as NAME
from bot.telegram.webhook import blueprint

log = logging.getLogger(__name__)

TELEGRAM_API = "https://api.telegram.org"


@dataclass(frozen=True)
class TelegramConnection:
    """Telegram as configured: the bot's token (and id), and the webhook's secret token."""

    shared: Shared
    sender: TelegramSender
    secret: str
    #: The number before the colon of the token: update ids are unique per bot.
    bot_id: str

    def deliver(self, batch: Sequence[Claimed], now: datetime) -> list[Outcome]:
        """Send claimed messages to Telegram, each chat's in order, at Telegram's pace."""
        return deliver_to_telegram(self.shared, self.sender, NAME, batch)

    @property
    def broadcast_part(self) -> int:
        """A broadcast's messages taken at once: about two seconds of Telegram's pace."""
        return max(1, int(2 * self.sender.pace.overall.per_second))

    def answer_tap(self, query_id: str) -> None:
        """Stop the spinner on the tapped button (not waited for: the webhook answers at once)."""
        self._quietly(self.sender.submit(lambda bot: bot.answer_callback_query(query_id)))

    def show_answered(self, chat_id: int, message_id: int, text: str | None) -> None:
        """Replace a question's buttons with the answer chosen (or, with no text, just take
        them away), so they cannot answer twice."""
        if text is None:
            call = lambda bot: bot.edit_message_reply_markup(chat_id, message_id)  # noqa: E731
        else:
            call = lambda bot: bot.edit_message_text(text, chat_id, message_id)  # noqa: E731
        self._quietly(self.sender.submit(call))

    def chat_link(self, keyword: str | None, workshop_id: int | None) -> ChatLink:
        """The t.me deep link that opens the chat at the survey, or at the workshop's sign-up."""
        payload = workshop_payload(workshop_id) if keyword is None else keyword_payload(keyword)
        return ChatLink("Telegram", f"https://t.me/{self.username}?start={payload}")

    @cached_property
    def username(self) -> str:
        """The bot's username, asked of Telegram once."""
        return self.sender.call(lambda bot: bot.get_me()).username

    def close(self) -> None:
        """Close the Bot's HTTP client and its event loop."""
        self.sender.close()

    def _quietly(self, future: Future) -> None:
        """Log, rather than raise, what a call nobody waits for ran into (a tap answered
        twice, a message too old to edit)."""

        def done(finished: Future) -> None:
            if not finished.cancelled() and finished.exception() is not None:
                error = said(finished.exception(), self.sender)
                log.warning("telegram call failed", extra={"error": error})

        future.add_done_callback(done)


def connect(config: Mapping[str, Any], shared: Shared) -> TelegramConnection | None:
    """Telegram's connection, when its bot token is set."""
    token = config.get("TELEGRAM_BOT_TOKEN") or ""
    if not token:
        return None
    # httpx logs each request's URL at INFO, and a Telegram URL holds the bot's token; PTB logs
    # its URL and every call's parameters (chat ids, what was said) at DEBUG.
    for chatty in ("httpx", "httpcore", "telegram"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    sender = TelegramSender(config.get("TELEGRAM_API_BASE_URL") or TELEGRAM_API, token)
    sender.pace = Pace(
        float(config.get("TELEGRAM_MESSAGES_PER_SECOND") or PER_SECOND),
        float(config.get("TELEGRAM_CHAT_INTERVAL_SECONDS") or PER_CHAT_SECONDS),
    )
    return TelegramConnection(
        shared,
        sender,
        secret=config.get("TELEGRAM_WEBHOOK_SECRET") or "",
        bot_id=token.split(":", 1)[0],
    )


def settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Telegram's config keys, from the environment."""
    return {
        "TELEGRAM_BOT_TOKEN": environ.get("TELEGRAM_BOT_TOKEN", ""),
        "TELEGRAM_WEBHOOK_SECRET": environ.get("TELEGRAM_WEBHOOK_SECRET", ""),
        "TELEGRAM_API_BASE_URL": environ.get("TELEGRAM_API_BASE_URL") or TELEGRAM_API,
        # Telegram's pace for a bot; lower it for a small bot, never raise it past Telegram's.
        "TELEGRAM_MESSAGES_PER_SECOND": environ.get("TELEGRAM_MESSAGES_PER_SECOND", ""),
        "TELEGRAM_CHAT_INTERVAL_SECONDS": environ.get("TELEGRAM_CHAT_INTERVAL_SECONDS", ""),
    }


TELEGRAM = Channel(
    NAME,
    connect,
    blueprint=blueprint,
    commands=telegram_group,
    settings=settings,
    sends_links=lambda config: bool(config.get("TELEGRAM_BOT_TOKEN")),
)
