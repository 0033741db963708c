"""What every request and command shares: the database, the survey library, the clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import delivery
from bot.channels import Channel, Connection, Shared
from bot.library import SurveyLibrary
from bot.service import Inbound, Turn, handle_inbound
from bot.workshops import DEFAULT_BASE_URL
from storage.db import make_engine, session_factory
from storage.outbox import has_unfinished_replies

log = logging.getLogger(__name__)

#: Bump when the wording of the consent notice (catalog key consent.notice) changes.
CONSENT_VERSION = "2026-12-v2"


def utc_now() -> datetime:
    """The real clock, in UTC."""
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The app's long-lived resources, built once from its config."""

    engine: Engine
    db: sessionmaker[Session]
    #: For reading only (exports, the simulator's polling): never blocks a writer.
    read_db: sessionmaker[Session]
    library: SurveyLibrary
    tz: ZoneInfo
    clock: Callable[[], datetime] = field(default=utc_now)
    #: The connections of the channels the config sets up, by channel name.
    channels: dict[str, Connection] = field(default_factory=dict)
    #: The channels whose clients read their replies themselves.
    self_delivering: frozenset[str] = frozenset()
    #: Sends fresh replies right after commit, off the request thread; None leaves it to workers.
    sender_pool: ThreadPoolExecutor | None = None
    #: Where the bot's own pages (calendar files) are reached from a phone.
    public_base_url: str = DEFAULT_BASE_URL
    #: Set when the process is stopping: senders make no new call and release what they hold.
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], channels: Sequence[Channel]) -> Runtime:
        """Open the database named in the config, connect the channels it sets up, and the rest."""
        engine = make_engine(config["DATABASE_URL"])
        db = session_factory(engine)
        clock = config.get("CLOCK", utc_now)
        stopping = threading.Event()
        shared = Shared(db, clock, stopping)
        connected = {c.name: c.connect(config, shared) for c in channels}
        return cls(
            engine=engine,
            db=db,
            read_db=session_factory(engine, readonly=True),
            library=SurveyLibrary(CONSENT_VERSION),
            tz=ZoneInfo(config["TIMEZONE"]),
            clock=clock,
            channels={name: c for name, c in connected.items() if c is not None},
            self_delivering=frozenset(c.name for c in channels if c.self_delivering),
            stopping=stopping,
            sender_pool=ThreadPoolExecutor(4, "sender") if config["DELIVER_AFTER_COMMIT"] else None,
            public_base_url=config.get("PUBLIC_BASE_URL") or DEFAULT_BASE_URL,
        )

    def handle(self, inbound: Inbound, *, send_now: bool = False) -> Turn | None:
        """Handle one inbound event now; with `send_now`, the caller passes the turn's claimed
        replies to `deliver_soon` (only when this process sends after commit)."""
        return handle_inbound(
            self.db,
            self.library,
            inbound,
            self.clock(),
            self.tz,
            self.public_base_url,
            send_now=send_now and self.sender_pool is not None,
            self_delivering=self.self_delivering,
        )

    def deliver_soon(
        self,
        respondent_id: int | None,
        claimed: Sequence[delivery.Claimed] = (),
        *,
        claim_more: bool = True,
    ) -> None:
        """In the background, now: send the messages already claimed, then (with `claim_more`)
        whatever else is due for the respondent (None: for anyone)."""
        if self.sender_pool is not None:
            self.sender_pool.submit(
                self._deliver_quietly, respondent_id, tuple(claimed), claim_more
            )

    def _deliver_quietly(
        self, respondent_id: int | None, claimed: tuple[delivery.Claimed, ...], claim_more: bool
    ) -> None:
        try:
            delivery.send(self, claimed, self.clock())
            # A reply written while ours were being sent had to wait for them (a chat reads in
            # order, and its own sender could not claim it): take it now, not at a worker's poll.
            if claim_more or (claimed and self._has_unfinished_replies(claimed[0].address)):
                # broadcasts are the worker's: a web thread is for the chat that called it
                delivery.deliver(self, self.clock(), respondent_id, broadcasts=False)
        except Exception:  # the worker will try again; a background thread has no one to tell
            log.exception("sending after commit failed")

    def _has_unfinished_replies(self, address: str) -> bool:
        with self.read_db() as session:  # read only: takes no write lock
            return has_unfinished_replies(session, address)

    def stop(self) -> None:
        """Stop sending: make no new call, release what is claimed and not yet sent, close."""
        self.stopping.set()
        self.close()

    def close(self) -> None:
        """Finish background sends, close the channels that hold a client, and the database."""
        if self.sender_pool is not None:
            self.sender_pool.shutdown(wait=True)
        for connection in self.channels.values():
            close = getattr(connection, "close", None)  # only some hold a client or a loop
            if close is not None:
                close()
        self.engine.dispose()


def runtime() -> Runtime:
    """The current app's runtime."""
    return current_app.extensions["runtime"]
