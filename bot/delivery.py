"""Delivery: take due messages from the outbox, send them through their channel, keep the outcome.

A message is claimed in one short transaction (status "sending", a claim id and a lease), sent
with no transaction open, and its outcome recorded in another. So a slow platform never holds a
lock, and several workers (and the web process) share the work with SKIP LOCKED. Just before
each call the sender records the try and checks that the claim is still its own (`note_try`),
which also extends the lease; a sender that dies leaves a claim that lapses, and the sender
that takes over repeats the recorded call, so the platform can tell it what already went out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from storage.models import (
    BROADCAST_WAITING,
    CHAT_MESSAGES,
    OutboxMessage,
    Registration,
    Respondent,
)
from storage.outbox import erased_address, new_claim
from storage.reminders import UNREACHABLE, still_wanted

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

#: How long a claim lasts before another sender may take the message again. A live sender
#: extends it before each call, so it need only outlast one call (5 s at most, bot/line/sender.py);
#: a dead sender's messages are taken over this soon, while LINE's reply tokens still work.
LEASE = timedelta(seconds=float(os.environ.get("DELIVERY_LEASE_SECONDS") or 15))
#: Why a message unasked for (reminder, nudge, notice) was not sent.
CONSENT_WITHDRAWN = "consent withdrawn"
#: After this many tries a message is given up as failed, with the last error kept.
MAX_ATTEMPTS = 8
#: Backoff between tries: 2, 4, 8 … seconds, at most five minutes.
MAX_BACKOFF = timedelta(minutes=5)
#: The kind of a broadcast's messages: claimed apart, in parts as large as their channel sends.
BROADCAST = "broadcast"
#: A broadcast's messages taken at once, for a channel that does not say how many it wants.
BROADCAST_PART = 100


class Status(StrEnum):
    """What became of one message."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    #: Not tried this time (the sender is stopping, the platform asked to wait): due again at
    #: once or after its retry_after, the try not counted.
    RELEASED = "released"


@dataclass(frozen=True)
class Claimed:
    """A message taken for sending, detached from the database session."""

    id: int
    retry_key: str
    channel: str
    address: str
    payload: dict[str, Any]
    reply_token: str | None
    created_at: datetime
    attempts: int
    #: The claim this sender holds it under.
    claim: str
    #: How an earlier try went out whose outcome was never recorded (see OutboxMessage.tried).
    tried: str | None = None
    #: "reply", "broadcast", … (OutboxMessage.kind): a broadcast's messages may go together.
    kind: str = "reply"

    @classmethod
    def of(cls, row: OutboxMessage) -> Claimed:
        """The claimed copy of a row."""
        return cls(
            id=row.id,
            retry_key=row.retry_key,
            channel=row.channel,
            address=row.address,
            payload=row.payload,
            reply_token=row.reply_token,
            created_at=row.created_at,
            attempts=row.attempts,
            claim=row.claim or "",
            tried=row.tried,
            kind=row.kind,
        )


@dataclass(frozen=True)
class Outcome:
    """The result of sending one message."""

    message_id: int
    status: Status
    detail: str = ""
    retry_after: float | None = None
    #: False when the platform's answer (or no connection at all) proves the call did nothing:
    #: the try is then forgotten, so it is not repeated as one that may have gone out.
    reached: bool = True


def note_try(
    db: sessionmaker[Session],
    messages: Sequence[Claimed],
    tried: str | None,
    now: datetime,
    renew: Sequence[int] | None = None,
) -> bool:
    """Record, before a call, that these messages go out as `tried` (None: that the last try
    did nothing), and renew the lease of their claim's messages (or only of those in `renew`,
    for a sender that works on several parts of one claim at once); False (and nothing
    written) when the claim lapsed and another sender holds them."""
    claim = messages[0].claim
    with db.begin() as session:
        noted = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([message.id for message in messages]),
                OutboxMessage.claim == claim,
                OutboxMessage.status == "sending",
            )
            .values(tried=tried, tried_at=now)
        ).rowcount
        if noted != len(messages):
            session.rollback()
            return False
        renewed = update(OutboxMessage).where(
            OutboxMessage.claim == claim, OutboxMessage.status == "sending"
        )
        if renew is not None:
            renewed = renewed.where(OutboxMessage.id.in_(renew))
        session.execute(renewed.values(due_at=now + LEASE))
    return True


def claim(
    db: sessionmaker[Session],
    now: datetime,
    respondent_id: int | None = None,
    limit: int = 100,
    *,
    broadcasts_on: str | None = None,
) -> list[Claimed]:
    """Take up to `limit` due messages (optionally one respondent's), replies first, then the
    rest, each oldest first; broadcasts are left out, unless `broadcasts_on` names a channel:
    then only its broadcasts' messages are taken, oldest first."""
    with db.begin() as session:
        due = select(OutboxMessage).where(
            OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.due_at <= now
        )
        if respondent_id is not None:
            due = due.where(OutboxMessage.respondent_id == respondent_id)
        # The conditions as the partial indexes word them (storage/models.py), so that the
        # planner reads only this claim's messages, past a broadcast's many waiting rows.
        if broadcasts_on is None:
            query = due.where(text(CHAT_MESSAGES)).order_by(
                # a reply someone is waiting for goes before a reminder or a nudge
                OutboxMessage.kind != "reply",
                OutboxMessage.id,
            )
        else:
            query = (
                due.where(text(BROADCAST_WAITING), OutboxMessage.channel == broadcasts_on)
                # a broadcast's messages share a due time: in it, in the order written
                .order_by(OutboxMessage.due_at, OutboxMessage.id)
            )
        query = query.limit(limit).with_for_update(skip_locked=True)
        rows = _in_order(session, list(session.scalars(query)))
        # held for the loop: the session keeps loaded objects only while something refers to them
        _related = _load_related(session, rows)
        claim_id = new_claim()
        claimed: list[Claimed] = []
        dropped: dict[str, list[int]] = {}
        for row in rows:
            reason = _reason_to_drop(session, row, now)
            if reason is not None:
                # kept rather than deleted, so it can be seen later why a message never went
                dropped.setdefault(reason, []).append(row.id)
                continue
            taken = Claimed.of(row)
            claimed.append(replace(taken, attempts=taken.attempts + 1, claim=claim_id))
        # one statement for all (a broadcast's part is 500), not an UPDATE per row
        if claimed:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([message.id for message in claimed]))
                .values(
                    status="sending",
                    due_at=now + LEASE,
                    attempts=OutboxMessage.attempts + 1,
                    claim=claim_id,
                )
                .execution_options(synchronize_session=False)
            )
        for reason, ids in dropped.items():
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(status="dropped", last_error=reason)
                .execution_options(synchronize_session=False)
            )
        return claimed


def _in_order(session: Session, rows: list[OutboxMessage]) -> list[OutboxMessage]:
    """Keep, for each address, only the rows no unfinished earlier message must precede.

    A chat must read in order: while an earlier message to the same address is waiting out a
    backoff, or is being sent by someone else, the later ones wait too.
    """
    addresses = {row.address for row in rows if row.kind == "reply"}
    if not addresses:
        return rows
    unfinished: dict[str, list[int]] = {}
    for address, message_id in session.execute(
        select(OutboxMessage.address, OutboxMessage.id)
        .where(
            OutboxMessage.address.in_(addresses),
            OutboxMessage.status.in_(("pending", "sending")),
            OutboxMessage.kind == "reply",
            text(CHAT_MESSAGES),  # for its index: not past a broadcast's waiting rows
        )
        .order_by(OutboxMessage.id)
    ):
        unfinished.setdefault(address, []).append(message_id)
    taken = {row.id for row in rows}
    allowed: set[int] = set()
    for ids in unfinished.values():
        for message_id in ids:  # the run of this address's oldest messages that we hold
            if message_id not in taken:
                break
            allowed.add(message_id)
    return [row for row in rows if row.id in allowed or row.kind != "reply"]


def _load_related(session: Session, rows: list[OutboxMessage]) -> list[object]:
    """Load the rows' respondents and registrations (with workshops) in two queries.

    The checks before sending then find them in the session, instead of querying once per row
    (and first flushing the rows already claimed, which autoflush would do before each query).
    """
    respondent_ids = {row.respondent_id for row in rows if row.respondent_id is not None}
    registration_ids = {row.registration_id for row in rows if row.registration_id is not None}
    related: list[object] = []
    if respondent_ids:
        related += session.scalars(select(Respondent).where(Respondent.id.in_(respondent_ids)))
    if registration_ids:
        related += session.scalars(
            select(Registration)
            .options(joinedload(Registration.workshop))
            .where(Registration.id.in_(registration_ids))
        )
    return related


def _reason_to_drop(session: Session, row: OutboxMessage, now: datetime) -> str | None:
    """Why a due message should not be sent after all, or None to send it."""
    respondent = session.get(Respondent, row.respondent_id) if row.respondent_id else None
    if respondent is not None and respondent.consent_withdrawn and row.kind != "reply":
        return CONSENT_WITHDRAWN
    if row.kind == "reminder":
        # written days ahead: the seat, the workshop or its start may have changed since
        return still_wanted(session, row, now)
    if row.respondent_id is not None and (respondent is None or not respondent.reachable):
        return UNREACHABLE
    return None


def record(
    db: sessionmaker[Session],
    outcomes: Sequence[Outcome],
    claims: dict[int, str],
    now: datetime,
) -> None:
    """Store each message's outcome: sent, due again after a backoff, or given up.

    `claims` is the claim each message was sent under: if it lapsed and another sender took the
    message since, this (late) outcome is not ours to record.
    """
    with db.begin() as session:
        recorded = _record_sent(session, outcomes, claims, now)
        outcomes = [outcome for outcome in outcomes if outcome.message_id not in recorded]
        if not outcomes:
            return
        # one query for the batch, rather than one per message (each first flushing the last)
        ids = [outcome.message_id for outcome in outcomes]
        rows = {
            row.id: row
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        }
        # Messages that went in one call are retried together, so none is repeated without the
        # others: they wait as long as the most tried of them.
        most_tries: dict[str, int] = {}
        for row in rows.values():
            if row.tried:
                most_tries[row.tried] = max(most_tries.get(row.tried, 0), row.attempts)
        for outcome in outcomes:
            row = rows.get(outcome.message_id)
            if row is None or row.status != "sending" or row.claim != claims.get(row.id):
                continue
            row.last_error = outcome.detail or None
            if outcome.status is Status.RELEASED:
                due = now + timedelta(seconds=outcome.retry_after or 0)
                row.status, row.due_at, row.attempts = "pending", due, row.attempts - 1
            elif outcome.status is Status.SENT:
                row.status, row.sent_at = "sent", now
            elif outcome.status is Status.RETRY and row.attempts < MAX_ATTEMPTS:
                tries = most_tries.get(row.tried or "", row.attempts)
                row.status, row.due_at = "pending", now + backoff(tries, outcome.retry_after)
                if not outcome.reached:
                    row.tried = None
            else:
                row.status = "failed"
                log.warning("message failed", extra={"message_id": row.id, "error": outcome.detail})
            if row.kind == "farewell" and row.status in ("sent", "failed"):
                # the last traces of an erased person's chat
                row.reply_token, row.address = None, erased_address()


def _record_sent(
    session: Session, outcomes: Sequence[Outcome], claims: dict[int, str], now: datetime
) -> set[int]:
    """Mark the messages sent, a statement per claim and note (not an UPDATE per row: a
    broadcast's part is 500), where the claim is still the sender's; return those marked.
    A farewell is left to the caller, which also wipes its address."""
    groups: dict[tuple[str, str], list[int]] = {}
    for outcome in outcomes:
        if outcome.status is Status.SENT and outcome.message_id in claims:
            key = (claims[outcome.message_id], outcome.detail)
            groups.setdefault(key, []).append(outcome.message_id)
    marked: set[int] = set()
    for (claim_id, detail), ids in groups.items():
        marked.update(
            session.scalars(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.status == "sending",
                    OutboxMessage.claim == claim_id,
                    OutboxMessage.kind != "farewell",
                )
                .values(status="sent", sent_at=now, last_error=detail or None)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
    return marked


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait before the next try: doubling from 2 s (at most MAX_BACKOFF), or what
    the platform asked, however long (trying sooner would only be refused again)."""
    wait = min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


def deliver(
    runtime: Runtime,
    now: datetime,
    respondent_id: int | None = None,
    *,
    broadcasts: bool = True,
) -> int:
    """Claim what is due, send it channel by channel, record the outcomes; return how many.

    Replies, reminders and notices go first; then (with `broadcasts`, and not for one
    respondent) the next part of each channel's broadcasts, as many as the channel sends in
    about a second, so a reply written meanwhile waits for one part at most.
    """
    if runtime.stopping.is_set():
        return 0
    handled = send(runtime, claim(runtime.db, now, respondent_id), now)
    if broadcasts and respondent_id is None:
        for name, connection in runtime.channels.items():
            part = getattr(connection, "broadcast_part", BROADCAST_PART)
            handled += send(runtime, claim(runtime.db, now, limit=part, broadcasts_on=name), now)
    return handled


def send(runtime: Runtime, claimed: Sequence[Claimed], now: datetime) -> int:
    """Send messages already claimed, channel by channel, and record the outcomes."""
    if not claimed:
        return 0
    outcomes: list[Outcome] = []
    for channel in dict.fromkeys(message.channel for message in claimed):
        batch = [message for message in claimed if message.channel == channel]
        connection = runtime.channels.get(channel)
        if runtime.stopping.is_set():
            outcomes += [Outcome(m.id, Status.RELEASED, "the sender stopped") for m in batch]
            continue
        if connection is None:
            outcomes += [Outcome(m.id, Status.RETRY, f"{channel} is not configured") for m in batch]
            continue
        try:
            outcomes += connection.deliver(batch, now)
        except Exception as error:  # a sender bug must not lose messages: they are tried again
            log.exception("delivery failed", extra={"channel": channel})
            outcomes += [Outcome(m.id, Status.RETRY, repr(error)) for m in batch]
    # the time after sending: a backoff counts from when the platform answered
    record(runtime.db, outcomes, {m.id: m.claim for m in claimed}, runtime.clock())
    sent = sum(outcome.status is Status.SENT for outcome in outcomes)
    log.info("delivered", extra={"claimed": len(claimed), "sent": sent})
    return len(claimed)
