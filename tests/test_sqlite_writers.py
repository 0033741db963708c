"""SQLite's writers queue on a lock file beside the database (storage/db.py).

The queue only exists on SQLite, the embedded default; PostgreSQL locks rows instead.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

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


def test_a_writer_that_waits_too_long_gives_up_rather_than_hang(engines, tmp_path) -> None:
    """A transaction left open (an operator's shell, a stopped process) holds the lock: the
    next writer fails after the busy timeout, as with SQLite's own lock, instead of waiting
    forever with every other request behind it."""
    first, _ = engines
    impatient = make_engine(f"sqlite:///{tmp_path / 'bot.db'}", busy_timeout=0.5)
    with first.begin() as connection:
        connection.execute(text("INSERT INTO note VALUES ('held')"))
        for _attempt in range(2):  # the second try must not find the lock half taken
            with pytest.raises(OperationalError, match="locked"), impatient.begin() as other:
                other.execute(text("INSERT INTO note VALUES ('late')"))
    with impatient.begin() as connection:
        connection.execute(text("INSERT INTO note VALUES ('in time')"))
    assert notes(first) == ["held", "in time"]
    impatient.dispose()


HOLD_THE_LOCK_FILE = """
import fcntl, os, sys, time
lock = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(lock, fcntl.LOCK_EX)
print("holding", flush=True)
time.sleep(60)
"""


def test_a_writer_gives_up_on_another_process_that_holds_the_queue(tmp_path) -> None:
    """Another process stuck inside a write (holding the lock file) costs this one the busy
    timeout, then "database is locked"; once that process is gone, writing works again."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    impatient = make_engine(url, busy_timeout=0.5)
    with impatient.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT)"))
    stuck = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK_FILE, f"{tmp_path / 'bot.db'}-writers"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stuck.stdout.readline().strip() == "holding"
        with pytest.raises(OperationalError, match="locked"), impatient.begin() as connection:
            connection.execute(text("INSERT INTO note VALUES ('late')"))
    finally:
        stuck.kill()
        stuck.wait()
    with impatient.begin() as connection:
        connection.execute(text("INSERT INTO note VALUES ('in time')"))
    assert notes(impatient) == ["in time"]
    impatient.dispose()


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
