"""Alembic environment: migrate the database given by the caller, or by DATABASE_URL."""

import os

from alembic import context

from storage.db import make_engine
from storage.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    # A migration runs once per deploy, beside a running app: it may wait longer than a turn.
    engine = make_engine(
        config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"], busy_timeout=30
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
