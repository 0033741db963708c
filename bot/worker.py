"""The delivery worker: sends what is due from the outbox (nudges now; replies, reminders and
broadcasts as channels that need pushing arrive). Several workers share the work safely."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from storage.models import OutboxMessage, Respondent

log = logging.getLogger(__name__)

#: How long an idle worker waits before looking again; due messages go out within this.
POLL_SECONDS = 1.0
BATCH = 100


def show_in_simulator(session: Session, row: OutboxMessage, now: datetime) -> None:
    """The simulator page reads sent messages itself: delivering one is marking it sent."""
    row.status, row.sent_at = "sent", now


#: How each channel delivers a due message.
DELIVERERS: dict[str, Callable[[Session, OutboxMessage, datetime], None]] = {
    "web": show_in_simulator,
}


def deliver_due(runtime: Runtime, now: datetime, limit: int = BATCH) -> int:
    """Deliver up to `limit` due messages; return how many were handled."""
    with runtime.db.begin() as session:
        # SKIP LOCKED lets several workers take different rows; SQLite serialises writers anyway.
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            respondent = session.get(Respondent, row.respondent_id)
            deliver = DELIVERERS.get(row.channel)
            if respondent is None or not respondent.reachable or deliver is None:
                row.status, row.last_error = "dropped", "respondent unreachable or no channel"
                continue
            deliver(session, row, now)
        return len(rows)


def run(runtime: Runtime, clock: Callable[[], datetime]) -> None:
    """Deliver due messages until SIGTERM or SIGINT; wait a moment when there is nothing to do."""
    stopping = False

    def stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started")
    while not stopping:
        try:
            handled = deliver_due(runtime, clock())
        except Exception:  # a database hiccup must not kill the worker; it tries again
            log.exception("delivery round failed")
            handled = 0
        if not handled:
            time.sleep(POLL_SECONDS)
    log.info("worker stopped")
