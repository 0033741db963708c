"""Sending claimed outbox messages to LINE: the reply token first (free), push otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.delivery import Claimed, Outcome, Status
from bot.line.render import MAX_PER_REQUEST, batches, line_messages
from bot.line.sender import LineSender, Result
from bot.line.sender import Outcome as Sent

if TYPE_CHECKING:
    from bot.runtime import Runtime

#: LINE does not promise how long a reply token lives (about 30 s has been seen); past this, push.
REPLY_TOKEN_LIFETIME = timedelta(seconds=25)

RESULT_STATUS = {Sent.SENT: Status.SENT, Sent.RETRY: Status.RETRY, Sent.FAILED: Status.FAILED}


def deliver_to_line(runtime: Runtime, batch: Sequence[Claimed], now: datetime) -> list[Outcome]:
    """Send each address's messages in order; stop an address at its first message not sent."""
    sender = runtime.line_sender
    assert sender is not None, "deliverer registered without a LINE sender"
    outcomes: list[Outcome] = []
    for address in dict.fromkeys(message.address for message in batch):
        queue = [message for message in batch if message.address == address]
        outcomes += _deliver_to_one(sender, queue, now)
    return outcomes


def _deliver_to_one(sender: LineSender, queue: list[Claimed], now: datetime) -> list[Outcome]:
    """Each run of messages that shares a fresh reply token goes as one reply (free of charge),
    the rest by push; a message not sent holds back the ones after it."""
    outcomes: list[Outcome] = []
    spent: set[str] = set()  # tokens already tried: LINE takes each one once
    rest = queue
    while rest:
        if outcomes and outcomes[-1].status is not Status.SENT:
            # Keep the conversation in order: a later message waits for the one before it.
            outcomes += [
                Outcome(m.id, Status.RETRY, "waiting for an earlier message") for m in rest
            ]
            break
        done = _reply(sender, rest, now, spent) or [_push(sender, rest[0])]
        outcomes += done
        rest = rest[len(done) :]
    return outcomes


def _reply(
    sender: LineSender, queue: list[Claimed], now: datetime, spent: set[str]
) -> list[Outcome]:
    """Reply with the leading messages that share a fresh reply token, up to 5 LINE messages."""
    token = queue[0].reply_token
    if not token or token in spent or now - queue[0].created_at > REPLY_TOKEN_LIFETIME:
        return []
    taken: list[Claimed] = []
    messages: list[dict] = []
    for message in queue:
        rendered = _render(message)
        if message.reply_token != token or len(messages) + len(rendered) > MAX_PER_REQUEST:
            break
        taken.append(message)
        messages += rendered
    if not taken:
        return []
    result = sender.reply(token, messages)
    spent.add(token)  # a token answers once: the rest of its run (past 5 messages) is pushed
    if result.outcome is Sent.TOKEN_INVALID:
        return []  # used or expired: these go by push instead
    return [_outcome(message.id, result) for message in taken]


def _push(sender: LineSender, message: Claimed) -> Outcome:
    """Push one message; if it renders to more than 5 LINE messages, in several requests."""
    for index, group in enumerate(batches(_render(message))):
        # Each request needs its own retry key; derive them so a retry reuses the same ones.
        key = (
            message.retry_key
            if index == 0
            else str(uuid.uuid5(uuid.UUID(message.retry_key), str(index)))
        )
        result = sender.push(message.address, group, key)
        if result.outcome is not Sent.SENT:
            return _outcome(message.id, result)
    return Outcome(message.id, Status.SENT)


def _render(message: Claimed) -> list[dict]:
    # "offset" is set on the repeat of a long list of choices, after a tap on "ถัดไป"
    return line_messages(message.payload, message.id, message.payload.get("offset", 0))


def _outcome(message_id: int, result: Result) -> Outcome:
    status = RESULT_STATUS.get(result.outcome, Status.FAILED)
    return Outcome(message_id, status, result.detail, result.retry_after)
