"""The delivery worker: sends whatever falls due in the outbox (replies the web process could not
send, nudges, reminders, broadcasts), and finishes writing a broadcast whose writer stopped,
until stopped. Several workers share the work safely."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.broadcasts import finish_writing
from bot.coordinators import invite_to_feedback
from bot.delivery import deliver
from bot.runtime import Runtime
from storage.respondents import forget_events_before

log = logging.getLogger(__name__)

#: How long an idle worker waits before looking again; due messages go out within this.
POLL_SECONDS = 1.0
#: How long handled event ids are kept to recognise a redelivery: far longer than any platform
#: retries, and short enough that the table stays small.
EVENT_MEMORY = timedelta(days=30)
#: How often a worker forgets the event ids older than that.
FORGET_EVERY = timedelta(hours=1)


def forget_old_events(runtime: Runtime, now: datetime) -> int:
    """Drop the ids of events handled longer than EVENT_MEMORY ago; return how many."""
    with runtime.db.begin() as session:
        forgotten = forget_events_before(session, now - EVENT_MEMORY)
    if forgotten:
        log.info("forgot old events", extra={"events": forgotten})
    return forgotten


def run(runtime: Runtime, clock: Callable[[], datetime]) -> None:
    """Deliver due messages until SIGTERM or SIGINT; wait a moment when there is nothing to do.

    On a signal it makes no new call: the call in flight ends (5 s at most), what it still holds
    is released for another worker, and it exits.
    """

    def stop(_signum, _frame) -> None:
        runtime.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started")
    forgotten_at: datetime | None = None
    while not runtime.stopping.is_set():
        try:
            if forgotten_at is None or clock() - forgotten_at >= FORGET_EVERY:
                forget_old_events(runtime, clock())
                forgotten_at = clock()
            handled = (
                finish_writing(runtime, clock())
                + deliver(runtime, clock())
                + invite_to_feedback(runtime, clock())
            )
        except Exception:  # a database hiccup must not kill the worker; it tries again
            log.exception("delivery round failed")
            handled = 0
        if not handled:
            runtime.stopping.wait(POLL_SECONDS)
    log.info("worker stopped")
