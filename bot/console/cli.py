"""Accounts from the command line: `create-user`, and the demo admin `make run` prints."""

from __future__ import annotations

import secrets

import click
from flask.cli import with_appcontext

from bot.console.accounts import MIN_PASSWORD, hash_password
from bot.console.roles import ADMIN, ROLES
from bot.runtime import runtime
from storage.staff import add_user, audit, find_user

DEMO_ADMIN = "admin@example.org"


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.password_option(help="the first password (asked for when not given)")
@with_appcontext
def create_user_command(email: str, role: str, password: str) -> None:
    """Create a console account."""
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password needs at least {MIN_PASSWORD} characters")
    rt = runtime()
    with rt.db.begin() as db:
        if find_user(db, email) is not None:
            raise click.ClickException(f"{email} already has an account")
        user = add_user(db, email, role, hash_password(password), rt.clock())
        audit(db, "cli", "user.created", rt.clock(), target=user.email, role=role)
    click.echo(f"created {user.email} ({role})")


@click.command("demo-admin")
@with_appcontext
def demo_admin_command() -> None:
    """Give the demo admin (made if missing) a new random password, and print both."""
    rt, password = runtime(), secrets.token_urlsafe(12)
    with rt.db.begin() as db:
        user = find_user(db, DEMO_ADMIN) or add_user(db, DEMO_ADMIN, ADMIN, "", rt.clock())
        user.role, user.active, user.password_hash = ADMIN, True, hash_password(password)
        user.session_version += 1
        audit(db, "cli", "demo_admin.reset", rt.clock(), target=user.email)
    click.echo(f"console: sign in as {DEMO_ADMIN} with password {password}")
