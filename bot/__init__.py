"""The shell: a Flask app around the engine, with one blueprint per channel or page."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import calendar, cli, health, maps, security
from bot.channel_list import CHANNELS
from bot.logs import configure_logging
from bot.runtime import Runtime
from storage.db import UNAVAILABLE

app_log = logging.getLogger(__name__)

#: LINE's webhook bodies are a few kilobytes; anything far larger is refused with a 413.
MAX_BODY_BYTES = 256 * 1024


class ConfigError(RuntimeError):
    """The configuration cannot work: the app refuses to start rather than misbehave later."""


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
        TELEGRAM_BOT_TOKEN=os.environ.get("TELEGRAM_BOT_TOKEN", ""),
        TELEGRAM_WEBHOOK_SECRET=os.environ.get("TELEGRAM_WEBHOOK_SECRET", ""),
        TELEGRAM_API_BASE_URL=os.environ.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org",
        # Telegram's pace for a bot; lower it for a small bot, never raise it past Telegram's.
        TELEGRAM_MESSAGES_PER_SECOND=os.environ.get("TELEGRAM_MESSAGES_PER_SECOND", ""),
        TELEGRAM_CHAT_INTERVAL_SECONDS=os.environ.get("TELEGRAM_CHAT_INTERVAL_SECONDS", ""),
        PUBLIC_BASE_URL=os.environ.get("PUBLIC_BASE_URL", ""),
        # How many proxies in front set X-Forwarded-For/-Proto/-Host (0: none is trusted).
        TRUSTED_PROXIES=int(os.environ.get("TRUSTED_PROXIES") or 0),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # off unless asked for: anyone who reaches the simulator can chat as a made-up respondent
        SIMULATOR_ENABLED=os.environ.get("SIMULATOR_ENABLED", "").strip().lower() in TRUTHY,
        # the web process sends fresh replies itself, so a chat feels instant without a worker
        DELIVER_AFTER_COMMIT=True,
    )
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
    security.init_app(app)
    for error in UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(RecursionError, _nested_too_deep)
    return app


def _check(config: Mapping[str, Any]) -> None:
    """Refuse a configuration that would send broken links to real people."""
    messaging = config["LINE_CHANNEL_ACCESS_TOKEN"] or config.get("TELEGRAM_BOT_TOKEN")
    if messaging and not config["PUBLIC_BASE_URL"]:
        raise ConfigError(
            "PUBLIC_BASE_URL must be set when LINE or Telegram is configured: it is the "
            "address phones open calendar links at, e.g. https://bot.example.org"
        )


def _nested_too_deep(_error: RecursionError) -> tuple[dict, int]:
    """A JSON body nested deeper than Python's parser follows: the client's fault, a 400."""
    return {"error": "the request body is nested too deeply"}, 400


def _database_unavailable(error: Exception) -> tuple[dict, int]:
    """A request the database could not serve: 503, so a client (or platform) tries again."""
    app_log.warning("database unavailable", extra={"error": type(error).__name__})
    return {"error": "the database is unavailable, try again shortly"}, 503
