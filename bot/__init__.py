"""The shell: a Flask app around the engine, with one blueprint per channel or page."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from bot import cli, health, simulator
from bot.logs import configure_logging
from bot.runtime import Runtime


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from environment variables, overridden by `config` (as tests do)."""
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'bot.db'}",
        TIMEZONE=os.environ.get("TZ") or "Asia/Bangkok",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
    )
    if config:
        app.config.update(config)
    configure_logging(app.config["LOG_LEVEL"])
    app.extensions["runtime"] = Runtime.from_config(app.config)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(simulator.blueprint)
    cli.init_app(app)
    return app
