"""Handing an assisted interview over to the respondent's own phone: a one-time code, and joining
the proxy respondent to the chat identity that sends it back."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from storage.models import (
    Answer,
    ConsentRecord,
    Conversation,
    CourseInterest,
    Feedback,
    HandOver,
    OutboxMessage,
    Registration,
    Respondent,
    Submission,
)
from storage.respondents import get_or_create_respondent

#: Digits in a code: typed on a phone's number pad, and too many to guess in its lifetime.
CODE_DIGITS = 8
#: A code is shown face to face and used at once; an unused one soon stops working.
CODE_LIFETIME = timedelta(minutes=30)
#: What a proxy respondent moves with them, beside their conversation.
MOVED_WITH_THEM = (Submission, Answer, ConsentRecord, Registration, CourseInterest, Feedback)


class Joined(StrEnum):
    """What came of a code sent from a phone."""

    JOINED = "joined"
    #: No such code, used already, or expired.
    UNKNOWN = "unknown"
    #: The phone's identity has answers or seats of its own: two people's data are never mixed.
    HAS_OWN = "has_own"


def issue_code(session: Session, respondent_id: int, by: str, now: datetime) -> str:
    """A new one-time code for the proxy respondent; any earlier unused code of theirs stops
    working."""
    session.execute(
        update(HandOver)
        .where(HandOver.respondent_id == respondent_id, HandOver.used_at.is_(None))
        .values(expires_at=now)
    )
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    session.add(
        HandOver(
            respondent_id=respondent_id,
            code_hash=_hash(code),
            created_by=by,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    return code


def redeem(session: Session, code: str, channel: str, user_id: str, now: datetime) -> Joined:
    """Join the proxy respondent whose live code this is to the chat identity that sent it:
    their answers, consent, seats and conversation move to it, and the proxy row goes."""
    ticket = session.scalars(
        select(HandOver)
        .where(
            HandOver.code_hash == _hash(code),
            HandOver.used_at.is_(None),
            HandOver.expires_at > now,
        )
        .with_for_update()
    ).first()
    proxy = session.get(Respondent, ticket.respondent_id) if ticket else None
    # a code typed into another assisted interview would join nobody's phone
    if ticket is None or proxy is None or proxy.channel == channel:
        return Joined.UNKNOWN
    phone = get_or_create_respondent(session, channel, user_id, now)
    if phone.is_test:  # a simulator's tester: a real person's answers never become test data
        return Joined.UNKNOWN
    if _has_own(session, phone.id):
        return Joined.HAS_OWN
    ticket.used_at = now
    for table in (*MOVED_WITH_THEM, HandOver):
        session.execute(
            update(table)
            .where(table.respondent_id == proxy.id)
            .values(respondent_id=phone.id)
            .execution_options(synchronize_session=False)
        )
    # what is still to go (a reminder, a nudge) goes to the phone; what went stays as it went
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.respondent_id == proxy.id, OutboxMessage.status == "pending")
        .values(channel=phone.channel, address=phone.channel_user_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.respondent_id == proxy.id)
        .values(respondent_id=phone.id)
        .execution_options(synchronize_session=False)
    )
    _move_conversation(session, proxy.id, phone.id, now)
    phone.profile = {**phone.profile, **proxy.profile}
    phone.language, phone.consent_withdrawn = proxy.language, proxy.consent_withdrawn
    phone.reachable = True
    session.delete(proxy)
    session.flush()
    return Joined.JOINED


def _move_conversation(session: Session, proxy_id: int, phone_id: int, now: datetime) -> None:
    """The phone carries on where the interview stopped: the proxy's conversation replaces
    whatever the phone had (a greeting, a consent question)."""
    theirs = session.get(Conversation, proxy_id)
    mine = session.get(Conversation, phone_id)
    if theirs is None:
        return
    if mine is None:
        mine = Conversation(respondent_id=phone_id, state={}, updated_at=now)
        session.add(mine)
    mine.state, mine.submission_id, mine.updated_at = theirs.state, theirs.submission_id, now
    session.delete(theirs)
    session.flush()


def _has_own(session: Session, respondent_id: int) -> bool:
    """Whether a respondent has answers or seats of their own."""
    return bool(
        session.scalar(
            select(
                exists().where(Submission.respondent_id == respondent_id)
                | exists().where(Registration.respondent_id == respondent_id)
            )
        )
    )


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
