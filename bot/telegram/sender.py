"""Calling the Bot API with python-telegram-bot, from one long-lived event loop.

PTB is async, and its HTTP client belongs to the event loop it was first used on; so the process
runs one loop in one thread for its Bot, and the synchronous shell hands calls to it. A call
never starts a loop of its own (asyncio.run per request would strand the client on a dead loop).
Sends are paced below Telegram's limits: 30 messages a second overall, one a second per chat.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import datetime
from typing import TypeVar

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.rate import Rate

T = TypeVar("T")

#: Telegram's documented pace for a bot is about 30 messages a second, one a second in a chat;
#: inside both by enough that network jitter on a loaded machine never bunches more than 30
#: into one second on arrival (28 a second once arrived as 31).
PER_SECOND, PER_CHAT_SECONDS = 26.0, 1.05
#: Messages under way at once (each to a different chat): enough to keep to Telegram's 30 a
#: second when answers take a seventh of a second, and few enough that the threads waiting on
#: them never hold back the event loop that writes the requests (which bunched their arrival).
CALLS_AT_ONCE = 4
#: Connections beyond those, for the taps answered and keyboards edited meanwhile.
SPARE_CONNECTIONS = 4


class Pace:
    """Waits so that sends stay under a rate overall and one per interval in each chat."""

    def __init__(self, per_second: float = PER_SECOND, per_chat_seconds: float = PER_CHAT_SECONDS):
        if not (0 < per_second <= 30 and per_chat_seconds >= 0):
            raise ValueError("Telegram's pace: 1 to 30 messages a second, and a chat interval ≥ 0")
        self.chat_gap = per_chat_seconds
        self.overall = Rate(per_second)
        self._next_in: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, chat: str, clock: Callable[[], float] = time.monotonic) -> None:
        """Return once a message to `chat` may go (its own turn holds back no other chat)."""
        with self._lock:
            now = clock()
            mine = max(now, self._next_in.get(chat, 0.0))
            self._next_in[chat] = mine + self.chat_gap
            if len(self._next_in) > 10_000:  # forget chats whose slot has long passed
                self._next_in = {c: t for c, t in self._next_in.items() if t > now}
        if mine > now:
            time.sleep(mine - now)  # real pacing of real sends, not a test waiting


class TelegramSender:
    """The Bot API through PTB's Bot, on this process's one Telegram event loop."""

    def __init__(self, base_url: str, token: str, timeout: float = 5.0):
        self.timeout = timeout
        # PTB keeps one connection by default: calls made at once would queue for it, and then
        # leave back to back, bunched, as each answer frees it.
        request = HTTPXRequest(
            connection_pool_size=CALLS_AT_ONCE + SPARE_CONNECTIONS,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            pool_timeout=timeout,
        )
        self.bot = Bot(token, base_url=f"{base_url.rstrip('/')}/bot", request=request)
        self.pace = Pace()
        #: Telegram asked (with a 429) that the bot send nothing until then, in the app's clock.
        self.quiet_until: datetime | None = None
        self._loop = asyncio.new_event_loop()
        self._ready: asyncio.Future | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="telegram", daemon=True)
        self._thread.start()

    def call(
        self, make: Callable[[Bot], Awaitable[T]], wait: float | None = None, paced: bool = False
    ) -> T:
        """Run one Bot API call on the loop and wait for its answer (or its exception), at most
        `wait` seconds (a long poll's own timeout and more). A `paced` call (a message sent)
        leaves in its slot of the bot's overall pace."""
        future = self.submit(make, paced)
        try:
            # under the delivery lease (15 s), so a claim never lapses during one call
            return future.result(wait or self.timeout * 2)
        except TimeoutError:
            future.cancel()  # so it cannot still land after the try is recorded as failed
            raise

    def submit(self, make: Callable[[Bot], Awaitable[T]], paced: bool = False) -> Future[T]:
        """Start one Bot API call on the loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(self._run(make, paced), self._loop)

    async def _run(self, make: Callable[[Bot], Awaitable[T]], paced: bool) -> T:
        failed = self._ready is not None and self._ready.done() and self._ready.exception()
        if self._ready is None or failed:  # set up the HTTP client once, on this loop
            self._ready = asyncio.ensure_future(self.bot.initialize())
        await asyncio.shield(self._ready)
        if paced:
            # The slot is taken here, on the loop, just before the request goes: paced in the
            # calling threads, sends would bunch on the way by as much as those threads lag.
            delay = self.pace.overall.take()
            if delay > 0:
                await asyncio.sleep(delay)
        return await make(self.bot)

    def close(self) -> None:
        """Close the HTTP client and stop the loop."""
        if self._ready is not None and self._ready.done() and not self._ready.exception():
            asyncio.run_coroutine_threadsafe(self.bot.shutdown(), self._loop).result(self.timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)
