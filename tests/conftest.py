"""Shared fixtures: a migrated database on each backend, the app on it, and a clock we control."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Base

#: Every database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL names one
#: (`make test` and CI always do).
pytest_plugins = [
    "tests.fake_line",
    "tests.line_user",
    "tests.fake_telegram",
    "tests.telegram_user",
    "tests.browser",
]

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


class Clock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward, e.g. advance(hours=25)."""
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    """10:00 in Lampang on 23 Nov 2026."""
    return Clock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def _postgres_schema() -> str | None:
    """Rebuild PostgreSQL's schema once per run, from the migrations."""
    if not POSTGRES_URL:
        return None
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, _postgres_schema) -> Iterator[str]:
    """A freshly migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        upgrade(url)
        yield url
        return
    engine = make_engine(_postgres_schema)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield _postgres_schema


@pytest.fixture
def app(database_url: str, clock: Clock) -> Iterator[Flask]:
    """The app on a fresh database, with the built-in surveys loaded and the simulator on."""
    from bot import create_app

    app = create_app(
        {"DATABASE_URL": database_url, "CLOCK": clock, "TESTING": True, "SIMULATOR_ENABLED": True}
    )
    result = app.test_cli_runner().invoke(args=["load-demo"])
    assert result.exit_code == 0, result.output
    yield app
    app.extensions["runtime"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()
