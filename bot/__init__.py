"""The shell: a Flask app around the engine, with one blueprint per channel or page."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import calendar, cli, console, health, maps, security
from bot.channel_list import CHANNELS
from bot.logs import configure_logging
from bot.runtime import Runtime
from storage.db import UNAVAILABLE

app_log = logging.getLogger(__name__)

#: LINE's webhook bodies are a few kilobytes; anything far larger is refused with a 413.
MAX_BODY_BYTES = 256 * 1024


class ConfigError(RuntimeError):
    """The configuration cannot work: the app refuses to start rather than misbehave later."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from environment variables, overridden by `config` (as tests do)."""
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'bot.db'}",
        TIMEZONE=os.environ.get("TZ") or "Asia/Bangkok",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
        PUBLIC_BASE_URL=os.environ.get("PUBLIC_BASE_URL", ""),
        # How many proxies in front set X-Forwarded-For/-Proto/-Host (0: none is trusted).
        TRUSTED_PROXIES=int(os.environ.get("TRUSTED_PROXIES") or 0),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # the web process sends fresh replies itself, so a chat feels instant without a worker
        DELIVER_AFTER_COMMIT=True,
    )
    for channel in CHANNELS:
        app.config.from_mapping(channel.settings(os.environ))
    if config:
        app.config.update(config)
    configure_logging(app.config["LOG_LEVEL"])
    _check(app.config)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["runtime"] = Runtime.from_config(app.config, CHANNELS)
    app.register_blueprint(health.blueprint)
    for channel in CHANNELS:
        if channel.blueprint is not None and channel.serves(app.config):
            app.register_blueprint(channel.blueprint)
        if channel.commands is not None:
            app.cli.add_command(channel.commands)
    app.register_blueprint(calendar.blueprint)
    app.register_blueprint(maps.blueprint)
    cli.init_app(app)
    console.init_app(app)
    security.init_app(app)
    for error in UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(RecursionError, _nested_too_deep)
    return app


def _check(config: Mapping[str, Any]) -> None:
    """Refuse a configuration that would send broken links to real people."""
    messaging = [channel.name for channel in CHANNELS if channel.sends_links(config)]
    if messaging and not config["PUBLIC_BASE_URL"]:
        raise ConfigError(
            f"PUBLIC_BASE_URL must be set when {' or '.join(messaging)} is configured: it is the "
            "address phones open calendar links at, e.g. https://bot.example.org"
        )


def _nested_too_deep(_error: RecursionError) -> tuple[dict, int]:
    """A JSON body nested deeper than Python's parser follows: the client's fault, a 400."""
    return {"error": "the request body is nested too deeply"}, 400


def _database_unavailable(error: Exception) -> tuple[dict, int]:
    """A request the database could not serve: 503, so a client (or platform) tries again."""
    app_log.warning("database unavailable", extra={"error": type(error).__name__})
    return {"error": "the database is unavailable, try again shortly"}, 503
