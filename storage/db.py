"""Open the database named by a URL: SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys, for concurrent use."""
    if url.startswith("postgres://"):  # the scheme Heroku-style platforms hand out
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    database = url.split("///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "factory": QueuedWriterConnection})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(connection, _record) -> None:
    # Let SQLAlchemy issue BEGIN itself, so every transaction can take the write lock up front.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # BEGIN IMMEDIATE serialises writers at the start instead of failing on lock upgrade later,
    # which is what SELECT ... FOR UPDATE gives us on PostgreSQL. Readers (exports, the
    # simulator's polling) need no lock: WAL lets them read beside a writer.
    if connection.get_execution_options().get("readonly"):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.connection.dbapi_connection.begin_write()


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions wait their turn on a lock file beside the
    database, so that a writer starts the moment the one before it ends.

    SQLite's own busy handler polls: a waiting writer sleeps, up to 100 ms at a time, and under
    load the write lock sits free while the writers that want it sleep (bench/README.md). A
    blocking flock() wakes a waiter as soon as the lock is let go, and it waits with the GIL
    released. SQLite's lock still guards the data; this only orders the writers of this app.
    """

    def __init__(self, database: str, *args, **kwargs) -> None:
        super().__init__(database, *args, **kwargs)
        in_memory = str(database) in ("", ":memory:") or str(database).startswith("file:")
        self._queue = None if in_memory else os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT)

    def begin_write(self) -> None:
        """Wait for the writers before this one, then take SQLite's write lock."""
        if self._queue is not None:
            fcntl.flock(self._queue, fcntl.LOCK_EX)
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._let_go()
            raise

    def commit(self) -> None:
        """Commit, then let the next writer in."""
        try:
            super().commit()
        finally:
            self._let_go()

    def rollback(self) -> None:
        """Roll back, then let the next writer in."""
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        """Close the connection and its lock file."""
        if self._queue is not None:
            os.close(self._queue)  # also lets go of the lock
            self._queue = None
        super().close()

    def _let_go(self) -> None:
        if self._queue is not None:
            fcntl.flock(self._queue, fcntl.LOCK_UN)


def session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """Return the factory callers use as `with factory.begin() as session:`.

    A read-only factory's transactions take no write lock on SQLite; use it only to read.
    """
    bind = engine.execution_options(readonly=True) if readonly else engine
    return sessionmaker(bind, expire_on_commit=False)
