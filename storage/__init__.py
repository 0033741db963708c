"""Persistence: SQLAlchemy 2 models, the engine factory, and functions that take a session."""
