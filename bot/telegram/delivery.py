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
        if not note_try(shared.db, [message], SEND, shared.clock()):
            return outcomes  # our claim lapsed: another sender has these now
        outcome = _send(shared, sender, channel, message)
        outcomes.append(outcome)
        if outcome.status is not Status.SENT:
            # Keep the conversation in order: a later message waits for the one before it.
            return outcomes + [
                Outcome(m.id, Status.RETRY, "waiting for an earlier message")
                for m in queue[index + 1 :]
            ]
    return outcomes


def _send(shared: Shared, sender: TelegramSender, channel: str, message: Claimed) -> Outcome:
    """One outbox message as one or more sendMessage calls."""
    chat = int(message.address)
    try:
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
        return Outcome(message.id, Status.RETRY, str(error), retry_after=seconds, reached=False)
    except Forbidden as error:  # blocked by the user, or they deleted their account
        _unreachable(shared, channel, message.address)
        return Outcome(message.id, Status.FAILED, f"unreachable: {error}", reached=False)
    except BadRequest as error:  # it will not get better by trying again
        return Outcome(message.id, Status.FAILED, str(error), reached=False)
    except (TelegramError, TimeoutError, OSError) as error:
        return Outcome(message.id, Status.RETRY, repr(error))
    return Outcome(message.id, Status.SENT)


def _unreachable(shared: Shared, channel: str, address: str) -> None:
    """They blocked the bot: nothing more is pushed to them until they come back."""
    with shared.db.begin() as session:
        session.execute(
            update(Respondent)
            .where(Respondent.channel == channel, Respondent.channel_user_id == address)
            .values(reachable=False)
        )
