"""LINE as a channel: its connection (the sender and the webhook's parser) and its registration."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from linebot.v3 import WebhookParser

from bot.channels import Channel, Shared
from bot.delivery import Claimed, Outcome, Status
from bot.line.cli import line_group
from bot.line.delivery import MOST_PER_MULTICAST, deliver_to_line, multicast_size
from bot.line.sender import LINE_API, MESSAGES_PER_SECOND, LineApiError, LineSender
from bot.line.webhook import CHANNEL as NAME
from bot.line.webhook import blueprint
from bot.posters import ChatLink

log = logging.getLogger(__name__)

#: LINE's link that opens an Official Account's chat with a message typed.
OA_MESSAGE = "https://line.me/R/oaMessage/"
#: What a workshop poster types in LINE: the word that lists the upcoming workshops.
WORKSHOPS_WORD = "อบรม"


@dataclass(frozen=True)
class LineConnection:
    """LINE as configured: it sends with the access token, and reads webhooks with the secret."""

    shared: Shared
    sender: LineSender | None
    parser: WebhookParser | None
    #: The Official Account's basic ID ("@123abcde"), for poster links; "" when not given.
    basic_id: str = ""

    def deliver(self, batch: Sequence[Claimed], now: datetime) -> list[Outcome]:
        """Send claimed messages to LINE, reply token first; kept for later without a token."""
        if self.sender is None:
            return [
                Outcome(m.id, Status.RETRY, "LINE_CHANNEL_ACCESS_TOKEN is not set") for m in batch
            ]
        return deliver_to_line(self.shared, self.sender, batch)

    @property
    def broadcast_part(self) -> int:
        """A broadcast's messages taken at once: one multicast's worth, so that the claim and
        the record of its outcome are short transactions."""
        return multicast_size(self.sender) if self.sender else MOST_PER_MULTICAST

    def quota(self) -> tuple[int | None, int] | None:
        """This month's limit of pushed messages (None: none) and those used; None when there
        is no access token or LINE cannot say just now."""
        if self.sender is None:
            return None
        try:
            return self.sender.quota()
        except LineApiError:
            log.warning("LINE's message quota could not be read")
            return None

    def chat_link(self, keyword: str | None, workshop_id: int | None) -> ChatLink | None:
        """LINE's oaMessage link, which opens the chat with a text typed for the person to send:
        the survey's keyword, or for a workshop the word that lists the workshops (LINE cannot
        open one directly). None without the account's basic ID (LINE_BASIC_ID)."""
        if not self.basic_id:
            return None
        text = keyword if keyword is not None else WORKSHOPS_WORD
        return ChatLink("LINE", f"{OA_MESSAGE}{quote(self.basic_id)}/?{quote(text)}")


def connect(config: Mapping[str, Any], shared: Shared) -> LineConnection | None:
    """LINE's connection, when its secret or its access token is set."""
    token, secret = config.get("LINE_CHANNEL_ACCESS_TOKEN"), config.get("LINE_CHANNEL_SECRET")
    if not (token or secret):
        return None
    return LineConnection(
        shared,
        sender=LineSender(
            config["LINE_API_BASE_URL"],
            token,
            per_second=float(config.get("LINE_MESSAGES_PER_SECOND") or MESSAGES_PER_SECOND),
        )
        if token
        else None,
        parser=WebhookParser(secret) if secret else None,
        basic_id=str(config.get("LINE_BASIC_ID") or "").strip(),
    )


def settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """LINE's config keys, from the environment."""
    return {
        "LINE_CHANNEL_SECRET": environ.get("LINE_CHANNEL_SECRET", ""),
        "LINE_CHANNEL_ACCESS_TOKEN": environ.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
        "LINE_API_BASE_URL": environ.get("LINE_API_BASE_URL") or LINE_API,
        "LINE_BASIC_ID": environ.get("LINE_BASIC_ID", ""),
        # pushed and multicast messages a second (one per recipient): lower it for a small
        # Official Account that LINE throttles
        "LINE_MESSAGES_PER_SECOND": environ.get("LINE_MESSAGES_PER_SECOND", ""),
    }


LINE = Channel(
    NAME,
    connect,
    blueprint=blueprint,
    commands=line_group,
    settings=settings,
    sends_links=lambda config: bool(config.get("LINE_CHANNEL_ACCESS_TOKEN")),
)
