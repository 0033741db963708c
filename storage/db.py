"""Open the database named by a URL: SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

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
    engine = create_engine(url, connect_args={"timeout": 30})
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
    readonly = connection.get_execution_options().get("readonly")
    connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """Return the factory callers use as `with factory.begin() as session:`.

    A read-only factory's transactions take no write lock on SQLite; use it only to read.
    """
    bind = engine.execution_options(readonly=True) if readonly else engine
    return sessionmaker(bind, expire_on_commit=False)
