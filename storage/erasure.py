"""Erasing a respondent at their request (PDPA): every row about them, and a record of how many."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.orm import Session

from storage.models import (
    Answer,
    ConsentRecord,
    Conversation,
    CourseInterest,
    Erasure,
    Feedback,
    HandOver,
    OutboxMessage,
    Registration,
    RegistrationChange,
    Respondent,
    Submission,
)


def erase_respondent(session: Session, respondent: Respondent, now: datetime) -> Erasure:
    """Delete the respondent and everything that refers to them; record only the counts.

    Their seats must be given up first (bot.workshops does, so the waitlist moves up).
    """
    who = respondent.id
    registrations = select(Registration.id).where(Registration.respondent_id == who)
    # children before parents, so no foreign key is left pointing at a deleted row
    deletions = [
        delete(OutboxMessage).where(
            or_(
                OutboxMessage.respondent_id == who,
                OutboxMessage.registration_id.in_(registrations),
            )
        ),
        delete(RegistrationChange).where(RegistrationChange.registration_id.in_(registrations)),
        delete(Registration).where(Registration.respondent_id == who),
        delete(Feedback).where(Feedback.respondent_id == who),
        delete(CourseInterest).where(CourseInterest.respondent_id == who),
        delete(ConsentRecord).where(ConsentRecord.respondent_id == who),
        delete(Conversation).where(Conversation.respondent_id == who),
        delete(HandOver).where(HandOver.respondent_id == who),
        delete(Answer).where(Answer.respondent_id == who),
        delete(Submission).where(Submission.respondent_id == who),
        delete(Respondent).where(Respondent.id == who),
    ]
    counts: dict[str, int] = {}
    for statement in deletions:
        table = statement.table.name
        done = session.execute(statement.execution_options(synchronize_session=False))
        counts[table] = counts.get(table, 0) + done.rowcount
    # The objects loaded for the turn stand for rows that are gone: never flush them again.
    session.expunge_all()
    record = Erasure(erased_at=now, channel=respondent.channel, rows=counts)
    session.add(record)
    return record


def wipe_deleted_pages(engine: Engine) -> bool:
    """After an erasure on SQLite, copy the write-ahead log into the database and empty it, so
    that no old copy of the erased rows' pages is left in either file (secure_delete, set on
    every connection, has already zeroed the rows in the database's own pages).

    Outside any transaction, and best effort: False if readers kept part of the log (it is then
    overwritten as the log is reused), never an error, since the erasure is already committed.
    """
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        try:
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
    return not busy
