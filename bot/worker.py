"""The delivery worker: sends whatever falls due in the outbox (replies the web process could not
send, nudges, reminders), until stopped. Several workers share the work safely."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import datetime

from bot.coordinators import invite_to_feedback
from bot.delivery import deliver
from bot.runtime import Runtime

log = logging.getLogger(__name__)

#: How long an idle worker waits before looking again; due messages go out within this.
POLL_SECONDS = 1.0


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
            handled = deliver(runtime, clock()) + invite_to_feedback(runtime, clock())
        except Exception:  # a database hiccup must not kill the worker; it tries again
            log.exception("delivery round failed")
            handled = 0
        if not handled:
            time.sleep(POLL_SECONDS)
    log.info("worker stopped")
