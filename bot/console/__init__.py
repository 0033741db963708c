"""The console for the people who run the project: sign-in, roles, workshops, the audit log.

`init_app` sets up what the pages need (the session's secret and cookie, Flask-Login,
Flask-Babel over the catalogs in locales/) and registers the pages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from flask_babel import Babel

from bot.console import (  # noqa: F401 - they add their pages
    admin,
    attendance_list,
    broadcasts,
    courses,
    dashboard,
    exports,
    interviews,
    posters,
    respondents,
    sign_in,
    workshops,
)
from bot.console.accounts import login_manager
from bot.console.blueprint import blueprint
from bot.console.cli import create_user_command, demo_admin_command
from bot.console.forms import ActionForm
from bot.console.sign_in import console_language
from bot.i18n import LOCALES
from bot.thai_dates import format_thai_datetime

#: A signed-in session ends after this long without a request.
SESSION_IDLE = timedelta(hours=float(os.environ.get("CONSOLE_SESSION_HOURS") or 8))


def init_app(app: Flask) -> None:
    """Serve the console at /console."""
    if not app.config.get("SECRET_KEY"):  # Flask's default is None
        app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or _instance_secret(app)
    public = str(app.config.get("PUBLIC_BASE_URL") or "")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_IDLE,
        BABEL_TRANSLATION_DIRECTORIES=str(LOCALES),
        BABEL_DEFAULT_LOCALE="th",
    )
    login_manager().init_app(app)
    Babel(app, locale_selector=console_language)
    app.register_blueprint(blueprint)
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_admin_command)

    @app.context_processor
    def console_context() -> dict[str, object]:
        return {"console_language": console_language(), "action_form": ActionForm()}

    @app.template_filter("console_time")
    def console_time(moment: datetime) -> str:
        return format_thai_datetime(
            moment.astimezone(app.extensions["runtime"].tz), console_language()
        )


def _instance_secret(app: Flask) -> str:
    """The key sessions are signed with, when SECRET_KEY is not set: made once and kept in the
    instance folder, so every worker of this machine signs alike and a restart signs nobody out."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"secret_key.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        # whole or not at all, and the first worker's wins: a link never replaces a file
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()
