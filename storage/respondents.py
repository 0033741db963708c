"""Respondents, their conversations, and the ledger of inbound events already handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ScalarResult, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Conversation, ProcessedEvent, Respondent

#: Added to a channel's name for the pseudo-channel under which a group chat's id is kept once
#: the group has been told that the survey works 1:1 with the bot ("line-group"): kept for good,
#: so a group is told only once.
GROUP_TOLD = "-group"

#: The INSERT with ON CONFLICT of each database the app runs on.
INSERT_FOR = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def claim_event(session: Session, channel: str, event_id: str, now: datetime) -> bool:
    """Record an inbound event id; False when it was already handled (a redelivery)."""
    # ON CONFLICT DO NOTHING rather than a savepoint around a plain INSERT: one statement, and
    # PostgreSQL still waits for a parallel redelivery's transaction to decide which one wins.
    insert = INSERT_FOR[session.get_bind().dialect.name](ProcessedEvent)
    claimed = session.execute(
        insert.values(channel=channel, event_id=event_id, processed_at=now)
        .on_conflict_do_nothing()
        .returning(ProcessedEvent.id)
    )
    return claimed.first() is not None


def claim_group_told(session: Session, channel: str, group_id: str, now: datetime) -> bool:
    """Remember that a group of `channel` was told the survey works 1:1; False if it was."""
    return claim_event(session, channel + GROUP_TOLD, group_id, now)


def forget_events_before(session: Session, before: datetime) -> int:
    """Forget the ids of events handled before `before` (not the groups told); return how many.

    Platforms redeliver an event within minutes or hours, never weeks later, so an old id only
    takes up space.
    """
    forgotten = session.execute(
        delete(ProcessedEvent).where(
            ProcessedEvent.processed_at < before,
            ProcessedEvent.channel.not_like(f"%{GROUP_TOLD}"),
        )
    )
    return forgotten.rowcount


def get_or_create_respondent(
    session: Session, channel: str, channel_user_id: str, now: datetime
) -> Respondent:
    """Return the respondent behind a channel identity, creating them on first contact."""
    respondent = find_respondent(session, channel, channel_user_id)
    if respondent is not None:
        return respondent
    try:
        with session.begin_nested():
            respondent = Respondent(
                channel=channel, channel_user_id=channel_user_id, profile={}, created_at=now
            )
            session.add(respondent)
    except IntegrityError:  # another request created them a moment ago
        return _by_identity(session, channel, channel_user_id).one()
    return respondent


def find_respondent(session: Session, channel: str, channel_user_id: str) -> Respondent | None:
    """Return the respondent behind a channel identity, or None if there is none."""
    return _by_identity(session, channel, channel_user_id).first()


def _by_identity(session: Session, channel: str, channel_user_id: str) -> ScalarResult[Respondent]:
    return session.scalars(
        select(Respondent).where(
            Respondent.channel == channel, Respondent.channel_user_id == channel_user_id
        )
    )


def lock_conversation(session: Session, respondent: Respondent, now: datetime) -> Conversation:
    """Return the respondent's conversation, locked until commit so their turns never interleave.

    On PostgreSQL the respondent's row lock serialises their turns (even the very first, before a
    conversation row exists); on SQLite every transaction begins IMMEDIATE, which does the same.
    """
    # populate_existing: what another turn committed while we waited (a profile, say) is seen
    session.scalars(
        select(Respondent)
        .where(Respondent.id == respondent.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    conversation = session.get(Conversation, respondent.id, populate_existing=True)
    if conversation is None:
        conversation = Conversation(respondent_id=respondent.id, state={}, updated_at=now)
        session.add(conversation)
        session.flush()
    return conversation
