"""A process-wide rate of sending: how many messages a second a channel lets out, for every thread.

A send of `count` messages takes its slot and moves the next slot on by count / rate, so over a
run the messages leave at the rate, and a late send is never made up for with a burst.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Rate:
    """Slots for sends, `per_second` messages a second overall."""

    def __init__(self, per_second: float):
        if per_second <= 0:
            raise ValueError("a rate is more than 0 messages a second")
        self.per_second = per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def take(self, count: int = 1, clock: Callable[[], float] = time.monotonic) -> float:
        """Take the slot for `count` messages; return the seconds until it comes."""
        with self._lock:
            now = clock()
            at = max(now, self._next)
            self._next = at + count / self.per_second
        return at - now

    def wait(self, count: int = 1) -> None:
        """Return when `count` messages may go."""
        delay = self.take(count)
        if delay > 0:
            time.sleep(delay)  # real pacing of real sends, not a test waiting
