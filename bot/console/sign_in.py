"""Signing in and out, changing one's password, and the console's language."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from bot.console.accounts import SignedIn, audit_here, hash_password, password_matches
from bot.console.blueprint import blueprint
from bot.console.forms import ActionForm, LoginForm, PasswordForm
from bot.runtime import runtime
from bot.thai_dates import format_thai_datetime
from storage.models import StaffUser
from storage.staff import (
    LOGIN_FAILED,
    address_refused,
    audit,
    find_user,
    is_locked,
    note_failed_login,
)

#: The console's languages, Thai first.
CONSOLE_LANGUAGES = ("th", "en")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """The sign-in page; wrong passwords are counted per account and per address."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("console/login.html", form=form)
    refusal, signed_in = _check_sign_in(form.email.data, form.password.data)
    if refusal is not None:
        message, status = refusal
        flash(message, "error")
        return render_template("console/login.html", form=form), status  # type: ignore[return-value]
    session.permanent = True  # ends after PERMANENT_SESSION_LIFETIME without a request
    login_user(signed_in)
    return redirect(url_for("console.home"))


def _check_sign_in(email: str, password: str) -> tuple[tuple[str, int] | None, SignedIn | None]:
    """Try the password, counting a failure against the account and the address: (why it is
    refused and the status to answer, None) or (None, who signed in)."""
    rt, address = runtime(), request.remote_addr or ""
    now = rt.clock()
    with rt.db.begin() as db:
        if address_refused(db, address, now):
            audit(db, email[:254], "login.refused", now, address=address)
            return (_("console.login.address_refused"), 429), None
        user = find_user(db, email)
        if user is not None and is_locked(user, now):
            audit(db, user.email, "login.locked", now, address=address)
            until = format_thai_datetime(user.locked_until.astimezone(rt.tz), console_language())
            return (_("console.login.locked", until=until), 423), None
        if user is None or not user.active or not password_matches(user.password_hash, password):
            locked = user is not None and user.active and note_failed_login(db, user, now)
            audit(db, email[:254], LOGIN_FAILED, now, address=address, locked=locked)
            return (_("console.login.wrong"), 401), None
        user.failed_logins, user.locked_until = 0, None
        audit(db, user.email, "login", now, address=address)
        return None, SignedIn(user)


@blueprint.post("/logout")
@login_required
def logout() -> Response:
    """Sign out (a form, so no other site can sign anyone out)."""
    if ActionForm().validate_on_submit():
        logout_user()
    return redirect(url_for("console.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response:
    """Change one's own password; every other session of the account ends."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_template("console/password.html", form=form)
    rt = runtime()
    with rt.db.begin() as db:
        user = db.get(StaffUser, current_user.user_id)
        changed = password_matches(user.password_hash, form.current.data)
        if changed:
            user.password_hash = hash_password(form.new.data)
            user.session_version += 1
            audit_here(db, "password.changed")
            signed_in = SignedIn(user)
    if not changed:
        flash(_("console.password.wrong"), "error")
        return render_template("console/password.html", form=form)
    login_user(signed_in)  # this session goes on under the new version
    flash(_("console.password.changed"), "ok")
    return redirect(url_for("console.home"))


@blueprint.post("/language/<language>")
def choose_language(language: str) -> Response:
    """Switch the console between Thai and English."""
    if ActionForm().validate_on_submit() and language in CONSOLE_LANGUAGES:
        session["console_language"] = language
    back = request.referrer or ""
    return redirect(back if back.startswith(request.host_url) else url_for("console.home"))


def console_language() -> str:
    """The console language of this request."""
    return session.get("console_language", CONSOLE_LANGUAGES[0])
