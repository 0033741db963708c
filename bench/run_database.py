"""A PostgreSQL database made for one benchmark run, on the server named on the command line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RunDatabase:
    """The run's own database, the one named on the command line, and how to drop the first."""

    url: str
    server_url: str
    version: str
    synchronous_commit: str
    drop: Callable[[], None]


def create_run_database(url: str, name: str) -> RunDatabase:
    """Create database `name` beside the one `url` names, dropping a leftover of an earlier run."""
    from sqlalchemy import create_engine, make_url, text

    parsed = make_url(url).set(drivername="postgresql+psycopg")
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    drop_it = text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    with admin.connect() as connection:
        connection.execute(drop_it)
        connection.execute(text(f"CREATE DATABASE {name}"))
        version = connection.execute(text("SHOW server_version")).scalar()
        synchronous_commit = connection.execute(text("SHOW synchronous_commit")).scalar()

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(drop_it)
        admin.dispose()

    return RunDatabase(
        url=parsed.set(database=name).render_as_string(hide_password=False),
        server_url=parsed.render_as_string(hide_password=False),
        version=version,
        synchronous_commit=synchronous_commit,
        drop=drop,
    )
