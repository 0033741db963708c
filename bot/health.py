"""GET /healthz: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

import logging

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.runtime import runtime

blueprint = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/healthz")
def healthz() -> tuple[dict, int]:
    """Report whether the database answers a trivial query."""
    try:
        with runtime().read_db() as session:  # read only: never waits behind the writers
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("database unreachable", extra={"error": str(error)})
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200
