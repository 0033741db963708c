"""The console's forms (Flask-WTF): each carries its CSRF token and checks what it takes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from bot.console.accounts import MIN_PASSWORD
from bot.console.roles import ROLES


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(validators=[DataRequired(), Length(max=254)])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    """The current password, and the new one twice."""

    current = PasswordField(validators=[DataRequired()])
    new = PasswordField(validators=[DataRequired(), Length(min=MIN_PASSWORD, max=1024)])
    again = PasswordField(validators=[DataRequired(), EqualTo("new")])


class NewUserForm(FlaskForm):
    """An account an admin creates: email, role and a first password."""

    email = EmailField(validators=[DataRequired(), Length(max=254)])
    role = SelectField(choices=list(ROLES))
    password = PasswordField(validators=[DataRequired(), Length(min=MIN_PASSWORD, max=1024)])


class UserChangeForm(FlaskForm):
    """An admin's change to one account: its role, or whether it may sign in."""

    role = SelectField(choices=list(ROLES))
    active = BooleanField()


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token, and an optional note."""

    note = StringField(validators=[Length(max=200)])


class RescheduleForm(FlaskForm):
    """A workshop's new start and end, in Lampang's local time."""

    starts = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    ends = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
