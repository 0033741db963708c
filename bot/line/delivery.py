"""Sending claimed outbox messages to LINE: the reply token first (free), push otherwise.

Each chat's waiting messages go together, up to LINE's 5 per call. Every call is recorded on its
messages just before it is made (`note_try`), so that after a crash the sender that takes over
makes the same call again and learns from LINE what already went out:
- a push is repeated with the same `X-Line-Retry-Key`: LINE answers 409 if it had it;
- a reply is repeated with the same token while the token must still be valid: "Invalid reply
  token" then means that this bot used it, so the reply went out. Past that, LINE cannot tell a
  used token from an expired one, and the reply is taken as delivered (README, "Reliability");
- a broadcast's messages with the same words go together by multicast, up to 500 people a call,
  the call's retry key being its first message's: a repeat goes again to everyone the first try
  was for and has not been answered for, whoever holds them now, so that the first call LINE
  accepts reaches each of them once, and the rest are told 409.
Pushes and multicasts keep to the configured pace (LINE_MESSAGES_PER_SECOND), one per recipient.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.delivery import BROADCAST, Claimed, Outcome, Status, note_try
from bot.line.render import MAX_PER_REQUEST, batches, line_messages, shared_messages
from bot.line.sender import LineSender, Result
from bot.line.sender import Outcome as Sent
from storage.outbox import waiting_for_try

if TYPE_CHECKING:
    from bot.channels import Shared

#: LINE does not promise how long a reply token lives (about 30 s has been seen). A token is
#: used only this young, and a reply tried with it is repeated only while it is this young.
REPLY_TOKEN_LIFETIME = timedelta(seconds=25)
#: `tried` of a message that went out in a reply.
REPLY = "reply"
#: Prefix of `tried` for a message that went out in a push; the push's retry key follows.
PUSH = "push:"
#: Prefix of `tried` for a broadcast's message that went out in a multicast, and its retry key.
MULTICAST = "multicast:"
#: LINE's most user ids in one multicast.
MOST_PER_MULTICAST = 500

RESULT_STATUS = {Sent.SENT: Status.SENT, Sent.RETRY: Status.RETRY, Sent.FAILED: Status.FAILED}


@dataclass(frozen=True)
class Call:
    """One request to LINE: a reply with a token or a push with a retry key, for the leading
    messages of a chat's queue."""

    messages: list[Claimed]
    #: REPLY, or PUSH + the retry key.
    tried: str
    #: Whether it repeats a call made before whose answer never came.
    again: bool = False

    @property
    def is_reply(self) -> bool:
        """Whether this call is a reply (else a push)."""
        return self.tried == REPLY


def deliver_to_line(shared: Shared, sender: LineSender, batch: Sequence[Claimed]) -> list[Outcome]:
    """Send a broadcast's messages by multicast, and each address's others in order (stopping
    an address at its first message not sent)."""
    together = [m for m in batch if m.kind == BROADCAST and not _pushed(m)]
    outcomes = _multicast_all(shared, sender, together) if together else []
    alone = [m for m in batch if m.kind != BROADCAST or _pushed(m)]
    for address in dict.fromkeys(message.address for message in alone):
        queue = [message for message in alone if message.address == address]
        outcomes += _deliver_to_one(shared, sender, queue)
    return outcomes


def _pushed(message: Claimed) -> bool:
    """Whether its last try was a push (a broadcast's message whose multicast LINE refused)."""
    return bool(message.tried and message.tried.startswith(PUSH))


def _multicast_all(shared: Shared, sender: LineSender, messages: list[Claimed]) -> list[Outcome]:
    """Send a broadcast's messages, call by call: first the repeats of calls whose answer never
    came, then the new ones."""
    outcomes: list[Outcome] = []
    for call in _multicasts(messages, multicast_size(sender)):
        if shared.stopping.is_set():
            stopped = "the sender stopped"
            outcomes += [Outcome(m.id, Status.RELEASED, stopped) for m in call.messages]
            continue
        outcomes += _multicast(shared, sender, call)
    return outcomes


def multicast_size(sender: LineSender) -> int:
    """The most people in one multicast: LINE's 500, or half a second of the pace, so that a
    call a little late on the way still leaves LINE's allowance (a second's worth) room."""
    return min(MOST_PER_MULTICAST, max(1, int(sender.rate.per_second / 2)))


def _multicasts(messages: list[Claimed], most: int) -> list[Call]:
    """The calls for a broadcast's messages: each earlier call as it was tried, then the same
    words to at most `most` people a call."""
    repeats: dict[str, list[Claimed]] = {}
    fresh: dict[str, list[Claimed]] = {}
    for message in messages:
        if message.tried and message.tried.startswith(MULTICAST):
            repeats.setdefault(message.tried, []).append(message)
        else:
            words = json.dumps(message.payload, sort_keys=True, ensure_ascii=False)
            fresh.setdefault(words, []).append(message)
    calls = [Call(group, tried, again=True) for tried, group in repeats.items()]
    for group in fresh.values():
        for first in range(0, len(group), most):
            part = group[first : first + most]
            calls.append(Call(part, MULTICAST + part[0].retry_key))
    return calls


def _multicast(shared: Shared, sender: LineSender, call: Call) -> list[Outcome]:
    """One multicast; when LINE refuses it for some of its ids (so nothing went), each of its
    messages is pushed on its own, and only those LINE refuses fail."""
    rendered = shared_messages(call.messages[0].payload)
    to = [message.address for message in call.messages]
    if call.again:
        with shared.db() as session:
            to = list(dict.fromkeys([*to, *waiting_for_try(session, call.tried)]))
    if len(rendered) > MAX_PER_REQUEST:  # (a notice is one message and its link)
        return _one_by_one(shared, sender, call.messages)
    sender.rate.wait(len(to))  # before the note: the lease runs from the call
    if not note_try(shared.db, call.messages, call.tried, shared.clock()):
        return []  # our claim lapsed: another sender has these now
    result = sender.multicast(to, rendered, call.tried.removeprefix(MULTICAST))
    if result.outcome is Sent.FAILED and result.status == 400:
        if not note_try(shared.db, call.messages, None, shared.clock()):
            return []
        return _one_by_one(shared, sender, call.messages)
    return [_outcome(message.id, result) for message in call.messages]


def _one_by_one(shared: Shared, sender: LineSender, messages: list[Claimed]) -> list[Outcome]:
    """Push each message on its own, with its own retry key."""
    return [o for m in messages for o in _deliver_to_one(shared, sender, [_untried(m)])]


def _deliver_to_one(shared: Shared, sender: LineSender, queue: list[Claimed]) -> list[Outcome]:
    """Send one chat's messages, call by call; a message not sent holds back those after it.

    Each call reads the clock anew: the lease it renews, and the age of a reply token, count
    from when the call is made, not from when the batch was claimed.
    """
    outcomes: list[Outcome] = []
    spent: set[str] = set()  # tokens already tried in this round: LINE takes each one once
    rest = queue
    while rest:
        if outcomes and outcomes[-1].status is not Status.SENT:
            # Keep the conversation in order: a later message waits for the one before it.
            return outcomes + [
                Outcome(m.id, Status.RETRY, "waiting for an earlier message") for m in rest
            ]
        if shared.stopping.is_set():
            return outcomes + [Outcome(m.id, Status.RELEASED, "the sender stopped") for m in rest]
        now = shared.clock()
        call = _next_call(rest, now, spent)
        if call is None:  # a reply tried before, whose token is now too old to ask LINE with
            taken = _lost_reply(rest)
            outcomes += [
                Outcome(m.id, Status.SENT, "unconfirmed: a reply whose answer was lost")
                for m in taken
            ]
            rest = rest[len(taken) :]
            continue
        if not call.is_reply:
            sender.rate.wait()  # a push counts against the pace (a reply does not)
            now = shared.clock()
        if not note_try(shared.db, call.messages, call.tried, now):
            return outcomes  # our claim lapsed: another sender has these now, leave them be
        done = _make(sender, call, spent)
        if done is None:  # the token was refused before any reply went out: push instead
            if not note_try(shared.db, call.messages, None, now):
                return outcomes  # (recorded as not tried, so no one takes it for delivered)
            refused = {message.id for message in call.messages}
            rest = [_untried(m) if m.id in refused else m for m in rest]
            continue
        outcomes += done
        rest = rest[len(call.messages) :]
    return outcomes


def _next_call(rest: list[Claimed], now: datetime, spent: set[str]) -> Call | None:
    """The call for the leading messages: the one tried before if its answer was lost, else a
    reply while the token is fresh, else a push; None for a reply that cannot be asked again."""
    first = rest[0]
    if first.tried == REPLY:
        if first.reply_token in spent or now - first.created_at > REPLY_TOKEN_LIFETIME:
            return None
        return Call(_lost_reply(rest), REPLY, again=True)
    if first.tried and first.tried.startswith(PUSH):
        return Call(_run(rest, lambda m: m.tried == first.tried), first.tried, again=True)
    if _fresh(first, now, spent) and len(_render(first)) <= MAX_PER_REQUEST:
        token = first.reply_token
        return Call(_fitting(_run(rest, lambda m: not m.tried and m.reply_token == token)), REPLY)
    pushable = _run(rest, lambda m: not m.tried and (m is first or not _fresh(m, now, spent)))
    return Call(_fitting(pushable), PUSH + first.retry_key)


def _fresh(message: Claimed, now: datetime, spent: set[str]) -> bool:
    """Whether the message's reply token may still be used."""
    token = message.reply_token
    return bool(token) and token not in spent and now - message.created_at <= REPLY_TOKEN_LIFETIME


def _run(rest: list[Claimed], belongs) -> list[Claimed]:
    """The leading messages that belong together (the first always does)."""
    run = [rest[0]]
    for message in rest[1:]:
        if not belongs(message):
            break
        run.append(message)
    return run


def _fitting(run: list[Claimed]) -> list[Claimed]:
    """As many leading messages as fit in one request (a first one too big goes alone)."""
    taken, count = [run[0]], len(_render(run[0]))
    for message in run[1:]:
        count += len(_render(message))
        if count > MAX_PER_REQUEST:
            break
        taken.append(message)
    return taken


def _lost_reply(rest: list[Claimed]) -> list[Claimed]:
    """The leading messages tried together in one reply whose answer never came."""
    first = rest[0]
    return _run(rest, lambda m: m.tried == REPLY and m.reply_token == first.reply_token)


def _untried(message: Claimed) -> Claimed:
    """The message as if it had not been tried: its reply was refused, so it did not go out."""
    return Claimed(**{**message.__dict__, "tried": None, "reply_token": None})


def _make(sender: LineSender, call: Call, spent: set[str]) -> list[Outcome] | None:
    """Make the call; None when a first reply's token was refused (nothing went out)."""
    if not call.is_reply:
        return _push(sender, call)
    token = call.messages[0].reply_token
    assert token is not None
    spent.add(token)  # a token answers once: the rest of its run (past 5 messages) is pushed
    result = sender.reply(token, [m for message in call.messages for m in _render(message)])
    if result.outcome is Sent.TOKEN_INVALID:
        if call.again:  # a token still young is refused only once used: by our first try
            return [
                Outcome(m.id, Status.SENT, "delivered by the earlier try") for m in call.messages
            ]
        return None
    return [_outcome(message.id, result) for message in call.messages]


def _push(sender: LineSender, call: Call) -> list[Outcome]:
    """Push the call's messages; a single message of more than 5 goes in several requests."""
    key = call.tried.removeprefix(PUSH)
    rendered = [m for message in call.messages for m in _render(message)]
    for index, group in enumerate(batches(rendered)):
        # Each request needs its own retry key; derive them so a retry reuses the same ones.
        part_key = key if index == 0 else str(uuid.uuid5(uuid.UUID(key), str(index)))
        result = sender.push(call.messages[0].address, group, part_key)
        if result.outcome is not Sent.SENT:
            return [_outcome(message.id, result) for message in call.messages]
    return [Outcome(message.id, Status.SENT) for message in call.messages]


def _render(message: Claimed) -> list[dict]:
    # "offset" is set on the repeat of a long list of choices, after a tap on "ถัดไป"
    return line_messages(message.payload, message.id, message.payload.get("offset", 0))


def _outcome(message_id: int, result: Result) -> Outcome:
    status = RESULT_STATUS.get(result.outcome, Status.FAILED)
    return Outcome(message_id, status, result.detail, result.retry_after, reached=result.reached)
