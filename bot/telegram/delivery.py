"""Sending claimed outbox messages to Telegram, one chat's in order, at Telegram's pace.

Telegram has no retry key and no reply token: a message whose answer never came (a timeout, a
crash between Telegram's answer and recording it) is sent again, so the rare failure is a
message shown twice, never a question that does not come. The window is one call: from the
request leaving to its outcome recorded, message by message (bench/faults.py measures it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import update
from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.channels import Shared
from bot.delivery import Claimed, Outcome, Status, note_try, record
from bot.telegram.render import telegram_messages
from bot.telegram.sender import CALLS_AT_ONCE, TelegramSender
from storage.models import Respondent

#: `tried` of a message handed to Telegram.
SEND = "send"


def deliver_to_telegram(
    shared: Shared, sender: TelegramSender, channel: str, batch: Sequence[Claimed]
) -> list[Outcome]:
    """Send each chat's messages in order, a few chats' calls at once and the chats in turn
    (so neither Telegram's answer time nor one chat's pace holds back the others); a chat stops
    at its first message not sent. Each outcome is recorded as soon as Telegram answers, which
    keeps the window in which a crash repeats a message to one call."""
    chats: dict[str, list[Claimed]] = {}
    for message in batch:
        chats.setdefault(message.address, []).append(message)
    turns = deque(chats.values())
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def take_turns() -> None:
        while True:
            with lock:
                if not turns:
                    return
                queue = turns.popleft()  # this chat is ours alone until it is put back
            done = _next_of(shared, sender, channel, queue)
            with lock:
                outcomes.extend(done)
                if queue:
                    turns.append(queue)

    callers = min(CALLS_AT_ONCE, len(turns))
    with ThreadPoolExecutor(callers, "telegram-send") as pool:
        for finished in [pool.submit(take_turns) for _ in range(callers)]:
            finished.result()
    return outcomes


def _next_of(
    shared: Shared, sender: TelegramSender, channel: str, queue: list[Claimed]
) -> list[Outcome]:
    """Send the first message of one chat's queue and record it; empty the queue when the rest
    are to wait (as they are handed back then, untried)."""
    if shared.stopping.is_set():
        return _released(queue, "the sender stopped")
    quiet = _quiet_for(sender, shared.clock())
    if quiet:  # due again when Telegram's wait is over; no try used up
        return _released(queue, "Telegram asked to wait", quiet)
    message = queue.pop(0)
    try:
        outcome = _send(shared, sender, channel, message, waiting=[m.id for m in queue])
    except Exception as error:  # what was sent stays sent: only this one is tried again
        outcome = Outcome(message.id, Status.RETRY, type(error).__name__)
    if outcome is None:  # our claim lapsed: another sender has these now
        queue.clear()
        return []
    record(shared.db, [outcome], {message.id: message.claim}, shared.clock())
    if outcome.status is Status.SENT:
        return [outcome]
    # Keep the conversation in order: a later message waits for the one before it, without
    # using up its own tries.
    return [outcome, *_released(queue, "waiting for an earlier message")]


def _released(queue: list[Claimed], why: str, wait: float | None = None) -> list[Outcome]:
    """Empty the queue: its messages are not tried this time, but handed back untouched (due
    again after `wait`)."""
    released = [Outcome(m.id, Status.RELEASED, why, retry_after=wait) for m in queue]
    queue.clear()
    return released


def _quiet_for(sender: TelegramSender, now: datetime) -> float:
    """Seconds left of the wait Telegram last asked the bot for (0: none)."""
    until = sender.quiet_until
    return (until - now).total_seconds() if until is not None and until > now else 0.0


def _send(
    shared: Shared, sender: TelegramSender, channel: str, message: Claimed, waiting: list[int]
) -> Outcome | None:
    """One outbox message as one or more sendMessage calls, each noted before it goes, so a
    message cut in parts resumes at the part that may not have arrived (None: the claim
    lapsed)."""
    parts = telegram_messages(message.payload, message.id)
    first = done = _resume_at(message)
    try:
        chat = int(message.address)
        for index in range(first, len(parts)):
            sender.pace.wait(message.address)  # before the note: the window is the call alone
            # The lease renewed is this chat's alone: the callers sending to other chats of the
            # same claim at the same moment would otherwise wait on each other's row locks.
            tried, renew = part_tried(message.id, index), [message.id, *waiting]
            if not note_try(shared.db, [message], tried, shared.clock(), renew):
                return None
            part = parts[index]
            markup = part.get("reply_markup")
            keyboard = InlineKeyboardMarkup.de_json(markup, None) if markup else None
            sender.call(
                lambda bot, p=part, k=keyboard: bot.send_message(
                    chat, p["text"], parse_mode=p.get("parse_mode"), reply_markup=k
                ),
                paced=True,
            )
            done = index + 1
    except RetryAfter as error:
        wait = error.retry_after
        seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
        # Telegram's wait is for the whole bot, not this chat: others wait for it too
        until = shared.clock() + timedelta(seconds=seconds)
        sender.quiet_until = max(until, sender.quiet_until or until)
        # refused, so it did nothing; but earlier parts did, and are not to be sent again
        return Outcome(message.id, Status.RETRY, "429", retry_after=seconds, reached=done > first)
    except Forbidden as error:  # blocked by the user, or they deleted their account
        _unreachable(shared, channel, message.address)
        return Outcome(message.id, Status.FAILED, f"unreachable: {said(error, sender)}")
    except BadRequest as error:  # it will not get better by trying again
        if "chat not found" in str(error).lower():  # the account is gone: push nothing more
            _unreachable(shared, channel, message.address)
        return Outcome(message.id, Status.FAILED, said(error, sender))
    except ChatMigrated as error:  # a group became a supergroup: its note is not worth chasing
        return Outcome(message.id, Status.FAILED, said(error, sender))
    except (TelegramError, TimeoutError, OSError, ValueError) as error:
        return Outcome(message.id, Status.RETRY, said(error, sender))
    return Outcome(message.id, Status.SENT)


def part_tried(message_id: int, part: int) -> str:
    """`tried` of a message while its part number `part` (from 0) is with Telegram."""
    return f"{SEND}:{message_id}:{part}"


def _resume_at(message: Claimed) -> int:
    """The part to send first: the one an earlier try left unconfirmed (parts before it were
    answered), or the first."""
    prefix = f"{SEND}:{message.id}:"
    if message.tried and message.tried.startswith(prefix):
        return int(message.tried.removeprefix(prefix))
    return 0


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
