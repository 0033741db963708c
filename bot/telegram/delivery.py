"""Sending claimed outbox messages to Telegram, one chat's in order, at Telegram's pace.

Telegram has no retry key and no reply token: a message whose answer never came (a timeout, a
crash between Telegram's answer and recording it) is sent again, so the rare failure is a
message shown twice, never a question that does not come. The window is the few milliseconds
between Telegram's answer and `record`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.channels import Shared
from bot.delivery import Claimed, Outcome, Status, note_try
from bot.telegram.render import telegram_messages
from bot.telegram.sender import TelegramSender
from storage.models import Respondent

#: `tried` of a message handed to Telegram.
SEND = "send"


def deliver_to_telegram(
    shared: Shared, sender: TelegramSender, channel: str, batch: Sequence[Claimed]
) -> list[Outcome]:
    """Send each chat's messages in order; a chat stops at its first message not sent."""
    outcomes: list[Outcome] = []
    for address in dict.fromkeys(message.address for message in batch):
        queue = [message for message in batch if message.address == address]
        outcomes += _deliver_to_one(shared, sender, channel, queue)
    return outcomes


def _deliver_to_one(
    shared: Shared, sender: TelegramSender, channel: str, queue: list[Claimed]
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for index, message in enumerate(queue):
        if shared.stopping.is_set():
            return outcomes + [
                Outcome(m.id, Status.RELEASED, "the sender stopped") for m in queue[index:]
            ]
        try:
            if not note_try(shared.db, [message], f"{SEND}:{message.id}", shared.clock()):
                return outcomes  # our claim lapsed: another sender has these now
            outcome = _send(shared, sender, channel, message)
        except Exception as error:  # what was sent stays sent: only this one is tried again
            outcome = Outcome(message.id, Status.RETRY, type(error).__name__)
        outcomes.append(outcome)
        if outcome.status is not Status.SENT:
            # Keep the conversation in order: a later message waits for the one before it,
            # without using up its own tries.
            return outcomes + [
                Outcome(m.id, Status.RELEASED, "waiting for an earlier message")
                for m in queue[index + 1 :]
            ]
    return outcomes


def _send(shared: Shared, sender: TelegramSender, channel: str, message: Claimed) -> Outcome:
    """One outbox message as one or more sendMessage calls."""
    try:
        chat = int(message.address)
        for part in telegram_messages(message.payload, message.id):
            sender.pace.wait(message.address)
            markup = part.get("reply_markup")
            keyboard = InlineKeyboardMarkup.de_json(markup, None) if markup else None
            sender.call(
                lambda bot, p=part, k=keyboard: bot.send_message(chat, p["text"], reply_markup=k)
            )
    except RetryAfter as error:
        wait = error.retry_after
        seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
        sender.pace.hold(seconds)  # Telegram's wait is for the whole bot, not this chat
        return Outcome(message.id, Status.RETRY, "429", retry_after=seconds, reached=False)
    except Forbidden as error:  # blocked by the user, or they deleted their account
        _unreachable(shared, channel, message.address)
        return Outcome(message.id, Status.FAILED, f"unreachable: {said(error, sender)}")
    except BadRequest as error:  # it will not get better by trying again
        if "chat not found" in str(error).lower():  # the account is gone: push nothing more
            _unreachable(shared, channel, message.address)
        return Outcome(message.id, Status.FAILED, said(error, sender))
    except (TelegramError, TimeoutError, OSError, ValueError) as error:
        return Outcome(message.id, Status.RETRY, said(error, sender))
    return Outcome(message.id, Status.SENT)


def said(error: Exception, sender: TelegramSender) -> str:
    """What an error says, fit to keep: PTB puts a rejected token in its message."""
    return f"{type(error).__name__}: {error}".replace(sender.bot.token, "<token>")[:300]


def _unreachable(shared: Shared, channel: str, address: str) -> None:
    """They blocked the bot: nothing more is pushed to them until they come back."""
    with shared.db.begin() as session:
        session.execute(
            update(Respondent)
            .where(Respondent.channel == channel, Respondent.channel_user_id == address)
            .values(reachable=False)
        )
