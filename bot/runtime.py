"""What every request and command shares: the database, the survey library, the clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.library import SurveyLibrary
from bot.service import Inbound, Turn, handle_inbound
from storage.db import make_engine, session_factory

#: Bump when the wording of the consent notice (catalog key consent.notice) changes.
CONSENT_VERSION = "2026-11-v1"


def utc_now() -> datetime:
    """The real clock, in UTC."""
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The app's long-lived resources, built once from its config."""

    engine: Engine
    db: sessionmaker[Session]
    library: SurveyLibrary
    tz: ZoneInfo
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Runtime:
        """Open the database named in the config and set up the rest."""
        engine = make_engine(config["DATABASE_URL"])
        return cls(
            engine=engine,
            db=session_factory(engine),
            library=SurveyLibrary(CONSENT_VERSION),
            tz=ZoneInfo(config["TIMEZONE"]),
            clock=config.get("CLOCK", utc_now),
        )

    def handle(self, inbound: Inbound) -> Turn | None:
        """Handle one inbound event now."""
        return handle_inbound(self.db, self.library, inbound, self.clock(), self.tz)


def runtime() -> Runtime:
    """The current app's runtime."""
    return current_app.extensions["runtime"]
