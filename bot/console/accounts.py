"""Who is signed in to the console: accounts behind Flask-Login, argon2 password hashes, and the
roles every view checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, current_app, request
from flask_babel import gettext
from flask_login import LoginManager, UserMixin, current_user
from sqlalchemy.orm import Session

from bot.coordination import Actor
from bot.runtime import runtime
from storage.models import StaffUser

#: A password shorter than this is refused.
MIN_PASSWORD = 10
HASHER = PasswordHasher()
F = TypeVar("F", bound=Callable[..., Any])


def hash_password(password: str) -> str:
    """The argon2id hash to store for a password."""
    return HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    """Whether the password is the one the hash was made from."""
    try:
        return HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class SignedIn(UserMixin):
    """A signed-in account, as Flask-Login holds it between requests."""

    def __init__(self, user: StaffUser):
        self.user_id, self.email, self.role = user.id, user.email, user.role
        self.session_version = user.session_version

    def get_id(self) -> str:
        """The session's id: the account and its session version, so that raising the version
        (disabled, new password) ends every session made before."""
        return f"{self.user_id}:{self.session_version}"

    def actor(self) -> Actor:
        """This account as the doer of a use case, from the request's address."""
        return Actor(self.email, self.role, request.remote_addr or "")


def load_signed_in(session_id: str) -> SignedIn | None:
    """The account behind a session id, while it is active and the session still current."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    with runtime().db() as session:
        user = session.get(StaffUser, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return SignedIn(user)


def login_manager() -> LoginManager:
    """Flask-Login set up for the console: sign-in page, strong session protection."""
    manager = LoginManager()
    manager.login_view = "console.login"
    manager.login_message = "console.login.needed"
    manager.localize_callback = gettext
    # "basic": a phone that moves from wifi to mobile data keeps its session
    manager.session_protection = "basic"
    manager.user_loader(load_signed_in)
    return manager


def allowed(*roles: str) -> Callable[[F], F]:
    """Let only signed-in accounts of these roles through; others get the sign-in page or 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def audit_here(db: Session, action: str, target: str = "", **detail: Any) -> None:
    """Audit an action of the signed-in account, from this request's address."""
    current_user.actor().audit(db, action, runtime().clock(), target, **detail)
