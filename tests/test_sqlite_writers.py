"""SQLite's writers queue on a lock file beside the database (storage/db.py).

The queue only exists on SQLite, the embedded default; PostgreSQL locks rows instead.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from storage.db import make_engine, session_factory


@pytest.fixture
def engines(tmp_path: Path) -> tuple[Engine, Engine]:
    """Two engines on one database file, as two app processes would have."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    first, second = make_engine(url), make_engine(url)
    with first.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT)"))
    yield first, second
    first.dispose()
    second.dispose()


def write_in_background(engine: Engine, body: str) -> threading.Event:
    """Start a write transaction on another thread; the event is set once it has committed."""
    done = threading.Event()

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO note VALUES (:body)"), {"body": body})
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done


def notes(engine: Engine) -> list[str]:
    """What the table holds."""
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT body FROM note ORDER BY rowid")))


def test_a_writer_waits_for_the_one_before_it_and_then_goes_in(engines) -> None:
    """A turn that arrives while another is writing waits for it, rather than failing."""
    first, second = engines
    with first.begin() as connection:
        connection.execute(text("INSERT INTO note VALUES ('first')"))
        waiting = write_in_background(second, "second")
        assert not waiting.wait(0.3), "the second writer went in while the first held the lock"
    assert waiting.wait(10)
    assert notes(first) == ["first", "second"]


def test_a_failed_write_lets_the_next_writer_in(engines) -> None:
    """A turn that fails and rolls back must not leave every later turn waiting forever."""
    first, second = engines
    with pytest.raises(RuntimeError), first.begin() as connection:
        connection.execute(text("INSERT INTO note VALUES ('lost')"))
        raise RuntimeError("the turn failed")
    assert write_in_background(second, "kept").wait(10)
    assert notes(second) == ["kept"]


def test_readers_never_wait_for_the_writers(engines) -> None:
    """Exports and the simulator's polling read beside a writer (WAL), without queueing."""
    first, second = engines
    read_db = session_factory(second, readonly=True)
    with first.begin() as connection:
        connection.execute(text("INSERT INTO note VALUES ('unseen until commit')"))
        read = threading.Event()

        def read_notes() -> None:
            with read_db.begin() as session:
                assert session.scalars(text("SELECT body FROM note")).all() == []
            read.set()

        threading.Thread(target=read_notes, daemon=True).start()
        assert read.wait(10), "a reader queued behind a writer"
