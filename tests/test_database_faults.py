"""Real database faults: while they last the webhook answers 5xx quickly, and /healthz says so;
after them, LINE's redelivery of the same body is handled exactly once."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import func, make_url, select, text

from bot.delivery import deliver
from storage.db import make_engine
from storage.migrate import ALEMBIC_INI, upgrade
from storage.models import ProcessedEvent, Respondent
from tests.conftest import POSTGRES_URL
from tests.line_user import LineUser, app_with_line, sign

#: LINE gives up on a webhook after 2 s and counts it failed; ours must answer within that.
LINE_TIMEOUT = 2.0


def head_revision() -> str:
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


def signed_body(user: LineUser, *events: dict) -> tuple[bytes, dict[str, str]]:
    """A body and its headers, kept so the same bytes can be redelivered, as LINE does."""
    body = json.dumps({"destination": "Ubot", "events": list(events)}).encode()
    return body, {"X-Line-Signature": sign(body)}


def post_timed(app: Flask, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    """Post a webhook body; return the status and how long the answer took."""
    started = time.monotonic()
    response = app.test_client().post("/webhooks/line", data=body, headers=headers)
    return response.status_code, time.monotonic() - started


def handled_once(app: Flask, user: LineUser, event_ids: list[str]) -> None:
    """The events are stored once each and the user got one greeting."""
    rt = app.extensions["runtime"]
    deliver(rt, rt.clock())
    with rt.db() as session:
        ids = session.scalars(select(ProcessedEvent.event_id)).all()
        assert sorted(ids) == sorted(event_ids)
        assert session.scalar(select(func.count()).select_from(Respondent)) == 1
    greetings = [m for m in user.fake.messages_to(user.user_id) if "สวัสดีค่ะ" in m.get("text", "")]
    assert len(greetings) == 1


def test_a_held_sqlite_write_lock_gives_a_quick_503_then_the_redelivery_counts_once(
    tmp_path, clock, fake_line
) -> None:
    """Another program holds the write lock: 503 within LINE's timeout, not a 30 s wait."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    app = next(app_with_line(url, clock, fake_line, DELIVER_AFTER_COMMIT=False))
    user = LineUser(app, fake_line)
    event = user.event("follow")
    body, headers = signed_body(user, event)
    holder = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as the sqlite3 shell or a stuck process would
    try:
        status, took = post_timed(app, body, headers)
    finally:
        holder.rollback()
        holder.close()
    assert status == 503
    assert took < LINE_TIMEOUT
    assert post_timed(app, body, headers)[0] == 200
    assert post_timed(app, body, headers)[0] == 200  # LINE may deliver it once more still
    handled_once(app, user, [event["webhookEventId"]])
    app.extensions["runtime"].close()


def test_a_corrupted_sqlite_file_gives_503_and_an_unhealthy_healthz(
    tmp_path, clock, fake_line
) -> None:
    """The file overwritten with junk: /healthz says unavailable, and no event is acknowledged
    (SQLite itself would go on from its cache and the WAL)."""
    path = tmp_path / "bot.db"
    upgrade(f"sqlite:///{path}")
    app = next(app_with_line(f"sqlite:///{path}", clock, fake_line, DELIVER_AFTER_COMMIT=False))
    user = LineUser(app, fake_line)
    assert app.test_client().get("/healthz").status_code == 200
    user.send(user.event("follow"))
    size = path.stat().st_size
    with path.open("r+b") as file:  # the same file, its pages replaced by junk
        file.write(b"\x00junk" * (size // 5))
    assert app.test_client().get("/healthz").status_code == 503
    body, headers = signed_body(user, user.event("message", message=_text("สวัสดี")))
    assert post_timed(app, body, headers)[0] == 503
    app.extensions["runtime"].close()


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
def test_healthz_notices_the_sqlite_file_deleted_or_replaced(tmp_path, clock, fault) -> None:
    """A pooled connection still reads a deleted file; /healthz must not be fooled by it."""
    from bot import create_app

    path, other = tmp_path / "bot.db", tmp_path / "other.db"
    upgrade(f"sqlite:///{path}")
    upgrade(f"sqlite:///{other}")  # a migrated database, but not the one the app opened
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "CLOCK": clock, "TESTING": True})
    client = app.test_client()
    assert client.get("/healthz").json == {
        "status": "ok",
        "database": "ok",
        "schema": head_revision(),
    }
    for leftover in tmp_path.glob("bot.db*"):
        leftover.unlink()
    if fault == "replaced":
        other.replace(path)
    assert client.get("/healthz").status_code == 503
    assert path.exists() == (fault == "replaced"), "the check must not create an empty file"
    app.extensions["runtime"].close()


@contextmanager
def own_postgres_database() -> Iterator[str]:
    """A migrated database of its own, so refusing its connections disturbs no other test."""
    admin_url = make_url(POSTGRES_URL).set(database="postgres")
    name = f"fault_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def refusing_connections(url: str) -> Iterator[None]:
    """The database refuses new connections and its open ones are cut, until the block ends."""
    name = make_url(url).database
    admin = make_engine(make_url(url).set(database="postgres").render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": name},
        )
        try:
            yield
        finally:
            connection.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
    admin.dispose()


def test_postgresql_refusing_connections_gives_503_then_the_redelivery_counts_once(
    clock, fake_line
) -> None:
    """While PostgreSQL refuses the app's database: 503 at once and an unhealthy /healthz."""
    assert POSTGRES_URL, "make test sets TEST_DATABASE_URL to CI's PostgreSQL"
    with own_postgres_database() as url:
        app = next(app_with_line(url, clock, fake_line, DELIVER_AFTER_COMMIT=False))
        user = LineUser(app, fake_line)
        first, second = user.event("follow"), user.event("message", message=_text("ประเมิน"))
        body, headers = signed_body(user, first, second)
        with refusing_connections(url):
            status, took = post_timed(app, body, headers)
            assert status == 503
            assert took < LINE_TIMEOUT
            assert app.test_client().get("/healthz").status_code == 503
        assert app.test_client().get("/healthz").status_code == 200
        assert post_timed(app, body, headers)[0] == 200
        assert post_timed(app, body, headers)[0] == 200
        handled_once(app, user, [first["webhookEventId"], second["webhookEventId"]])
        app.extensions["runtime"].close()


def _text(text_: str) -> dict:
    return {"type": "text", "id": uuid.uuid4().hex[:12], "text": text_, "quoteToken": "q"}
