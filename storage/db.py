"""Open the database named by a URL: SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

#: What a turn that failed for the database's sake raises (unreachable, locked, disk full, its
#: file gone or replaced), as opposed to a bug or bad data: the same event may well succeed
#: when it comes again, so the platform is asked to redeliver it.
UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    sqlite3.OperationalError,
)

#: How long any one wait for the database may last, in seconds: for a connection, a lock, the
#: writers before us. LINE gives a webhook 2 s to answer (README, "Reliability"); a turn that
#: cannot start within this answers 503 and LINE redelivers it, which beats a late success.
WAIT_SECONDS = float(os.environ.get("DATABASE_WAIT_SECONDS") or 1.5)


def make_engine(url: str, *, busy_timeout: float = WAIT_SECONDS) -> Engine:
    """Create an engine whose waits all end within `busy_timeout` seconds.

    SQLite gets WAL, foreign keys, and writers that wait their turn before failing with
    "database is locked"; PostgreSQL gets the same bound on connecting, on the pool and on
    waiting for a lock.
    """
    if url.startswith("postgres://"):  # the scheme Heroku-style platforms hand out
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        milliseconds = int(busy_timeout * 1000)
        return create_engine(
            url,
            # errors would otherwise log the statement's values: people's ids and answers
            hide_parameters=True,
            pool_pre_ping=True,
            pool_timeout=busy_timeout,
            connect_args={
                # libpq counts whole seconds, and treats less than 2 as 2
                "connect_timeout": max(2, round(busy_timeout)),
                "options": f"-c lock_timeout={milliseconds}",
            },
        )
    database = url.split("///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        hide_parameters=True,
        connect_args={"timeout": busy_timeout, "factory": QueuedWriterConnection},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


#: Per database file, the device and inode this process first opened it as.
_opened_files: dict[str, tuple[int, int]] = {}


def check_sqlite_file(path: str) -> None:
    """Raise sqlite3.OperationalError if the file this process opened is gone or another file
    took its place.

    SQLite itself would not notice: an open connection goes on with the deleted file, so a turn
    would "succeed" into data that is lost. Only os.stat is used: opening and closing the file
    here would drop every SQLite lock this process holds on it (POSIX locks belong to the
    process, and any close releases them), and another process could then delete the WAL.
    """
    try:
        stat = os.stat(path)
    except OSError as error:
        raise sqlite3.OperationalError(f"database file unreadable: {error}") from error
    identity = _opened_files.setdefault(path, (stat.st_dev, stat.st_ino))
    if identity != (stat.st_dev, stat.st_ino):
        raise sqlite3.OperationalError("database file was replaced since it was opened")


#: The first bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"


#: Per database file: its real path, and the descriptor its header was last read through.
_header_readers: dict[str, tuple[str, int | None]] = {}


def check_sqlite_header(path: str) -> None:
    """Raise sqlite3.OperationalError if the file no longer starts like a database (overwritten
    in place): SQLite goes on from its cache and the WAL, and would notice only much later.

    The header is read through a descriptor SQLite already holds (found in /proc/self/fd), for
    the reason check_sqlite_file gives; where there is none, or no /proc, nothing is checked.
    The descriptor found is tried first next time, so a write usually costs one readlink.
    """
    target, known = _header_readers.get(path) or (os.path.realpath(path), None)
    header = _read_header(known, target) if known is not None else None
    if header is None:
        try:
            descriptors = os.listdir("/proc/self/fd")
        except OSError:
            return
        for name in descriptors:
            header = _read_header(int(name), target)
            if header is not None:
                _header_readers[path] = (target, int(name))
                break
        else:
            return
    if header and header != SQLITE_MAGIC:  # an empty file is a database not yet written
        raise sqlite3.OperationalError("database file is not a database any more")


def _read_header(descriptor: int, target: str) -> bytes | None:
    """The first bytes of `target` through `descriptor`; None if it is not open on `target`."""
    try:
        if os.readlink(f"/proc/self/fd/{descriptor}") != target:
            return None
        return os.pread(descriptor, len(SQLITE_MAGIC), 0)
    except OSError:  # closed meanwhile, or not readable
        return None


def _sqlite_pragmas(connection, _record) -> None:
    # Let SQLAlchemy issue BEGIN itself, so every transaction can take the write lock up front.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros, not left readable in free space: an erasure
    # (PDPA) must really remove the person's data from the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # BEGIN IMMEDIATE serialises writers at the start instead of failing on lock upgrade later,
    # which is what SELECT ... FOR UPDATE gives us on PostgreSQL. Readers (exports, the
    # simulator's polling) need no lock: WAL lets them read beside a writer.
    if connection.get_execution_options().get("readonly"):
        connection.exec_driver_sql("BEGIN")
        return
    try:
        connection.connection.dbapi_connection.begin_write()
    except sqlite3.OperationalError as error:  # as SQLAlchemy wraps errors from its own calls
        raise OperationalError("BEGIN IMMEDIATE", None, error) from error


#: Per database file, the writers of this process: they wait here, without polling, and only
#: the first in line waits for the other processes' writers.
_process_writers: dict[str, threading.Lock] = {}
_process_writers_guard = threading.Lock()


def _writers_of_this_process(path: str) -> threading.Lock:
    with _process_writers_guard:
        return _process_writers.setdefault(path, threading.Lock())


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions wait their turn, so that a writer starts
    the moment the one before it ends.

    SQLite's own busy handler sleeps, up to 100 ms at a time, and under load the write lock sat
    free while the writers that wanted it slept (bench/README.md). Here the writers of one
    process queue on a lock in memory, which wakes the next the moment it is let go; the first
    in line takes a lock file beside the database (`<db>-writers`), shared with the other
    processes, trying again every millisecond or two while another process holds it. Like
    SQLite's, both waits give up after the connection's timeout. SQLite's own lock still guards
    the data; this only orders the app's writers.
    """

    def __init__(self, database: str, *args, **kwargs) -> None:
        super().__init__(database, *args, **kwargs)
        self._timeout = float(kwargs.get("timeout", args[0] if args else 5.0))
        path = str(database)
        in_memory = path in ("", ":memory:") or path.startswith("file:")
        self._path = None if in_memory else path
        self._process_writers = None if in_memory else _writers_of_this_process(path)
        self._lock_file: int | None = None  # opened at the first write: readers never need it
        self._in_line = False

    def begin_write(self) -> None:
        """Wait for the writers before this one, then take SQLite's write lock."""
        try:
            if self._path is not None:
                # a turn into a file deleted, replaced or overwritten would be lost: refuse it
                check_sqlite_file(self._path)
                check_sqlite_header(self._path)
                self._wait_turn()
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
        self._let_go()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
        super().close()

    def _wait_turn(self) -> None:
        deadline = time.monotonic() + self._timeout
        if not self._process_writers.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked")
        self._in_line = True
        self._take_lock_file(deadline)
        # SQLite's own busy wait (for writers outside the app, such as the sqlite3 shell) gets
        # what is left of the same deadline, so the waits add up to the timeout, not twice it.
        left = max(0, int((deadline - time.monotonic()) * 1000))
        self.execute(f"PRAGMA busy_timeout = {left}")

    def _take_lock_file(self, deadline: float) -> None:
        if self._lock_file is None:
            try:
                self._lock_file = os.open(f"{self._path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only directory, say: SQLite's own lock still works
                return
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    def _let_go(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        if self._in_line:
            self._in_line = False
            self._process_writers.release()
            # the shortened busy wait was for this write only; reads on this connection later
            # get the whole timeout again
            self.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")


def session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """Return the factory callers use as `with factory.begin() as session:`.

    A read-only factory's transactions take no write lock on SQLite; use it only to read.
    """
    bind = engine.execution_options(readonly=True) if readonly else engine
    return sessionmaker(bind, expire_on_commit=False)
