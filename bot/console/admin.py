"""The admin's pages: accounts (create, change role, disable) and the audit log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from bot.console.accounts import allowed, audit_here, hash_password
from bot.console.blueprint import blueprint
from bot.console.forms import NewUserForm, UserChangeForm
from bot.console.roles import ADMIN
from bot.runtime import runtime
from storage.models import StaffUser
from storage.staff import add_user, find_user, latest_entries


@blueprint.route("/users", methods=["GET", "POST"])
@allowed(ADMIN)
def users() -> str | Response:
    """Every account, and a form to add one."""
    rt, form = runtime(), NewUserForm()
    if form.validate_on_submit():
        with rt.db.begin() as db:
            if find_user(db, form.email.data) is not None:
                flash(_("console.users.exists"), "error")
            else:
                user = add_user(
                    db,
                    form.email.data,
                    form.role.data,
                    hash_password(form.password.data),
                    rt.clock(),
                )
                audit_here(db, "user.created", target=user.email, role=user.role)
                flash(_("console.users.created"), "ok")
                return redirect(url_for("console.users"))
    with rt.db() as db:
        accounts = list(db.scalars(select(StaffUser).order_by(StaffUser.email)))
    return render_template(
        "console/users.html", form=form, accounts=accounts, change=UserChangeForm()
    )


@blueprint.post("/users/<int:user_id>")
@allowed(ADMIN)
def change_user(user_id: int) -> Response:
    """Change an account's role, or disable it (which ends its sessions at once)."""
    rt, form = runtime(), UserChangeForm()
    if not form.validate_on_submit():
        abort(400)
    with rt.db.begin() as db:
        user = db.get(StaffUser, user_id)
        if user is None:
            abort(404)
        if user.id == current_user.user_id and (not form.active.data or form.role.data != ADMIN):
            flash(_("console.users.not_yourself"), "error")
            return redirect(url_for("console.users"))
        if form.role.data != user.role:
            audit_here(db, "role.changed", target=user.email, old=user.role, new=form.role.data)
            user.role = form.role.data
            user.session_version += 1  # a session keeps the role it began with: end it
        if form.active.data != user.active:
            action = "user.enabled" if form.active.data else "user.disabled"
            audit_here(db, action, target=user.email)
            user.active = form.active.data
            user.session_version += 1
    flash(_("console.users.changed"), "ok")
    return redirect(url_for("console.users"))


@blueprint.get("/audit")
@allowed(ADMIN)
def audit_log() -> str:
    """The newest entries of the audit log."""
    with runtime().db() as db:
        entries = latest_entries(db)
    return render_template("console/audit.html", entries=entries)
