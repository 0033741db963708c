"""GET /healthz: 200 when the database answers a real query on a live connection, 503 otherwise."""

from __future__ import annotations

import logging
import sqlite3
import weakref
from urllib.parse import quote

from flask import Blueprint
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.runtime import runtime
from storage.db import check_sqlite_file, check_sqlite_header

blueprint = Blueprint("health", __name__)
#: Per app engine, the engine that checks its SQLite file on a new connection each time.
_fresh_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
log = logging.getLogger(__name__)


@blueprint.get("/healthz")
def healthz() -> tuple[dict, int]:
    """Read the schema's migration version, as every turn's tables need it to be there."""
    engine = runtime().engine
    try:
        _check_file(engine)
        # A fresh connection for SQLite: a pooled one keeps reading a file deleted or replaced
        # under it. PostgreSQL's pool pings each connection before handing it out.
        checker = _fresh(engine) if engine.dialect.name == "sqlite" else engine
        with checker.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (SQLAlchemyError, sqlite3.Error) as error:  # whatever it is, a turn would fail too
        log.warning("database unavailable", extra={"error": f"{type(error).__name__}: {error}"})
        return {"status": "unavailable", "database": "unreachable"}, 503
    if version is None:
        return {"status": "unavailable", "database": "not migrated"}, 503
    return {"status": "ok", "database": "ok", "schema": version}, 200


def _check_file(engine: Engine) -> None:
    """On SQLite, fail when the file the app opened is gone, replaced or overwritten."""
    path = engine.url.database
    if engine.dialect.name == "sqlite" and path and path != ":memory:":
        check_sqlite_file(path)
        check_sqlite_header(path)


def _fresh(engine: Engine) -> Engine:
    """An engine on the same SQLite file that opens a new connection every time."""
    fresh = _fresh_engines.get(engine)
    if fresh is None:
        # mode=rw: a file that is gone is an error, not a new empty database
        uri = f"file:{quote(engine.url.database)}?mode=rw"
        fresh = _fresh_engines[engine] = create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
        )
    return fresh
