"""The migrations build exactly the schema the models describe, so a deploy never lacks a column
or an index the code relies on."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from storage.db import make_engine
from storage.migrate import ALEMBIC_INI, upgrade
from storage.models import Base


def test_the_migrated_database_matches_the_models(database_url) -> None:
    """A model changed without a migration (`alembic revision --autogenerate`) fails here."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_upgrading_marks_the_simulators_existing_respondents_as_test_data(tmp_path) -> None:
    """Before 0006 the "web" channel was only ever the simulator: its answers leave the export."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0005")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for channel, user in (("web", "tester-1"), ("line", "U" + "a" * 32)):
                connection.execute(
                    text(
                        "INSERT INTO respondent (channel, channel_user_id, language, profile,"
                        " reachable, created_at) VALUES (:channel, :user, 'th', '{}', true,"
                        " '2026-11-23 03:00:00')"
                    ),
                    {"channel": channel, "user": user},
                )
        upgrade(url)
        with engine.connect() as connection:
            marked = connection.execute(text("SELECT channel, is_test FROM respondent")).all()
    finally:
        engine.dispose()
    assert sorted(marked) == [("line", False), ("web", True)]
