"""The migrations build exactly the schema the models describe, so a deploy never lacks a column
or an index the code relies on."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import make_engine
from storage.models import Base


def test_the_migrated_database_matches_the_models(database_url) -> None:
    """A model changed without a migration (`alembic revision --autogenerate`) fails here."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
