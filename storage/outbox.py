"""The transactional outbox: messages written with the change that caused them, sent after."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from storage.models import BROADCAST_WAITING, CHAT_MESSAGES, OutboxMessage, Respondent


def new_claim() -> str:
    """A fresh claim id, for messages taken for sending."""
    return uuid.uuid4().hex


def enqueue(
    session: Session,
    respondent: Respondent,
    payloads: Iterable[dict[str, Any]],
    now: datetime,
    **options: Any,
) -> list[OutboxMessage]:
    """Add messages for the respondent (the options as add_messages takes them): `delivered`
    marks those the channel reads by itself, `claimed_until` those the caller will send right
    after commit, claimed until then, `due_at` those for later."""
    return add_messages(
        session,
        respondent.id,
        respondent.channel,
        respondent.channel_user_id,
        payloads,
        now,
        **options,
    )


def add_messages(
    session: Session,
    respondent_id: int | None,
    channel: str,
    address: str,
    payloads: Iterable[dict[str, Any]],
    now: datetime,
    *,
    due_at: datetime | None = None,
    delivered: bool = False,
    reply_token: str | None = None,
    kind: str = "reply",
    claimed_until: datetime | None = None,
    registration_id: int | None = None,
) -> list[OutboxMessage]:
    """The one place outbox rows are made: due now (or at `due_at`), already sent when
    `delivered`, or claimed by the caller until `claimed_until`."""
    claim = new_claim() if claimed_until else None
    rows = [
        OutboxMessage(
            respondent_id=respondent_id,
            channel=channel,
            address=address,
            reply_token=reply_token,
            payload=payload,
            kind=kind,
            registration_id=registration_id,
            status="sent" if delivered else "sending" if claimed_until else "pending",
            due_at=claimed_until or due_at or now,
            attempts=1 if claimed_until else 0,
            claim=claim,
            sent_at=now if delivered else None,
            created_at=now,
        )
        for payload in payloads
    ]
    session.add_all(rows)
    session.flush()
    return rows


def has_unfinished_replies(session: Session, address: str) -> bool:
    """Whether replies to this address are still waiting or being sent: later ones go after."""
    unfinished = select(OutboxMessage.id).where(
        OutboxMessage.address == address,
        OutboxMessage.status.in_(("pending", "sending")),
        OutboxMessage.kind == "reply",
        text(CHAT_MESSAGES),  # for its index: not past a broadcast's waiting rows
    )
    return session.scalar(unfinished.limit(1)) is not None


def waiting_for_try(session: Session, tried: str) -> list[str]:
    """The addresses of a broadcast's messages that went in the call `tried` and are still
    waiting for its outcome (whoever holds them now)."""
    return list(
        session.scalars(
            select(OutboxMessage.address).where(
                OutboxMessage.tried == tried,
                text(BROADCAST_WAITING),  # for its index: only a broadcast's waiting rows
            )
        )
    )


def enqueue_to_group(
    session: Session,
    channel: str,
    address: str,
    payload: dict[str, Any],
    now: datetime,
    token: str | None,
) -> None:
    """Add a reply to a group chat (no respondent behind it), sent with the event's reply token
    where the channel has one."""
    add_messages(session, None, channel, address, [payload], now, reply_token=token)


def enqueue_farewell(
    session: Session,
    channel: str,
    payloads: Iterable[dict[str, Any]],
    now: datetime,
    token: str | None,
    claimed_until: datetime | None = None,
    address: str | None = None,
) -> list[OutboxMessage]:
    """Add the last replies to someone just erased. With a reply token, there is no address
    that would keep their platform id (if the token can no longer be used, they are not sent);
    a channel without reply tokens needs the `address`, which delivery wipes once the goodbye
    is sent or given up (bot.delivery.record)."""
    # a random address, so that one farewell never waits behind another's in a chat's queue
    address = address or erased_address()
    return add_messages(
        session,
        None,
        channel,
        address,
        payloads,
        now,
        reply_token=token,
        kind="farewell",
        claimed_until=claimed_until,
    )


def erased_address() -> str:
    """An address that is nobody's: where an erased person's last messages are filed."""
    return f"erased:{new_claim()}"


def replace_nudge(
    session: Session,
    respondent: Respondent,
    payloads: Iterable[dict[str, Any]],
    due_at: datetime,
    now: datetime,
) -> None:
    """Cancel the respondent's unsent nudge and, if there are payloads, schedule a new one."""
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.respondent_id == respondent.id,
            OutboxMessage.kind == "nudge",
            OutboxMessage.status == "pending",
        )
    )
    enqueue(session, respondent, payloads, now, due_at=due_at, kind="nudge")


def messages_after(
    session: Session, respondent_id: int, after_id: int, limit: int = 200
) -> list[OutboxMessage]:
    """Return the respondent's delivered messages newer than `after_id`, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.respondent_id == respondent_id,
                OutboxMessage.id > after_id,
                OutboxMessage.status == "sent",
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )


def newest_messages(session: Session, respondent_id: int, count: int) -> list[OutboxMessage]:
    """Return the respondent's newest `count` delivered messages, oldest first."""
    newest = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.respondent_id == respondent_id, OutboxMessage.status == "sent")
        .order_by(OutboxMessage.id.desc())
        .limit(count)
    )
    return list(reversed(newest.all()))
