"""The outbox's delivery: in order per chat, shared safely between senders, nothing twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update

from bot.delivery import LEASE, Outcome, Status, claim, record
from storage.models import OutboxMessage
from storage.outbox import enqueue
from storage.respondents import get_or_create_respondent


def queue(app, clock, user: str, count: int) -> list[int]:
    """Queue `count` pending messages for one respondent; return their ids."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        respondent = get_or_create_respondent(session, "web", user, clock.now)
        session.flush()
        rows = enqueue(
            session, respondent, [{"text": f"{n}", "buttons": []} for n in range(count)], clock.now
        )
        return [row.id for row in rows]


def test_a_later_message_waits_for_an_earlier_one_in_backoff(app, clock) -> None:
    """A chat reads in order: while message 1 waits to be retried, message 2 is not sent."""
    first, second = queue(app, clock, "ordered", 2)
    db = app.extensions["runtime"].db
    with db.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == first)
            .values(due_at=clock.now + timedelta(seconds=30))
        )
    assert claim(db, clock.now) == []
    clock.advance(seconds=31)
    assert [m.id for m in claim(db, clock.now)] == [first, second]


def test_a_lapsed_claim_is_taken_again_and_the_late_outcome_is_ignored(app, clock) -> None:
    """A sender that stalls past its lease loses the message to another; its result is dropped."""
    [message] = queue(app, clock, "stalled", 1)
    db = app.extensions["runtime"].db
    [stalled] = claim(db, clock.now)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    [retaken] = claim(db, clock.now)
    assert retaken.attempts == stalled.attempts + 1
    record(db, [Outcome(message, Status.FAILED, "late")], {message: stalled.claim}, clock.now)
    record(db, [Outcome(message, Status.SENT)], {message: retaken.claim}, clock.now)
    with db() as session:
        row = session.get(OutboxMessage, message)
        assert (row.status, row.last_error) == ("sent", None)


def test_a_late_sent_from_a_lapsed_claim_does_not_cover_the_new_senders_failure(app, clock) -> None:
    """The stalled sender says "sent" after another took the message over and hit an error: the
    message is tried again rather than marked sent on the stalled sender's word."""
    [message] = queue(app, clock, "overtaken", 1)
    db = app.extensions["runtime"].db
    [stalled] = claim(db, clock.now)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    [retaken] = claim(db, clock.now)
    record(db, [Outcome(message, Status.SENT)], {message: stalled.claim}, clock.now)
    record(db, [Outcome(message, Status.RETRY, "503")], {message: retaken.claim}, clock.now)
    with db() as session:
        row = session.get(OutboxMessage, message)
        assert (row.status, row.last_error, row.sent_at) == ("pending", "503", None)


def test_concurrent_senders_never_take_the_same_message(app, clock) -> None:
    """Eight senders claiming at once (SKIP LOCKED on PostgreSQL) share 200 messages exactly."""
    for n in range(20):
        queue(app, clock, f"user-{n}", 10)
    db = app.extensions["runtime"].db
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: [m.id for m in claim(db, clock.now, limit=30)], range(8)))
    taken = [message for batch in batches for message in batch]
    assert len(taken) == len(set(taken))
    with db() as session:
        remaining = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.status == "pending")
        )
        assert len(taken) + len(list(remaining)) == 200
