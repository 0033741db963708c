"""The shell: a Flask app around the engine, with one blueprint per channel or page."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from bot import calendar, cli, health, simulator
from bot.line import webhook as line_webhook
from bot.logs import configure_logging
from bot.runtime import Runtime

#: The values of an on/off environment variable that mean on.
TRUTHY = frozenset({"1", "true", "yes"})


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from environment variables, overridden by `config` (as tests do)."""
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'bot.db'}",
        TIMEZONE=os.environ.get("TZ") or "Asia/Bangkok",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
        LINE_CHANNEL_SECRET=os.environ.get("LINE_CHANNEL_SECRET", ""),
        LINE_CHANNEL_ACCESS_TOKEN=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
        LINE_API_BASE_URL=os.environ.get("LINE_API_BASE_URL") or "https://api.line.me",
        PUBLIC_BASE_URL=os.environ.get("PUBLIC_BASE_URL", ""),
        # off unless asked for: anyone who reaches the simulator can chat as a made-up respondent
        SIMULATOR_ENABLED=os.environ.get("SIMULATOR_ENABLED", "").strip().lower() in TRUTHY,
        # the web process sends fresh replies itself, so a chat feels instant without a worker
        DELIVER_AFTER_COMMIT=True,
    )
    if config:
        app.config.update(config)
    configure_logging(app.config["LOG_LEVEL"])
    app.extensions["runtime"] = Runtime.from_config(app.config)
    app.register_blueprint(health.blueprint)
    if app.config["SIMULATOR_ENABLED"]:
        app.register_blueprint(simulator.blueprint)
    app.register_blueprint(line_webhook.blueprint)
    app.register_blueprint(calendar.blueprint)
    cli.init_app(app)
    return app
