"""The console's forms (Flask-WTF): each carries its CSRF token and checks what it takes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, EqualTo, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

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


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes, easier on a phone than a multiple select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CourseForm(FlaskForm):
    """A course: its code (kept once made), kind, who it is for, what it builds, its titles."""

    code = StringField(validators=[DataRequired(), Length(max=64), Regexp(r"^[a-z0-9][a-z0-9-]*$")])
    kind = SelectField(choices=["upskill", "reskill"])
    groups = CheckboxesField(validators=[DataRequired()])
    focus = CheckboxesField(validators=[DataRequired()])
    title_th = StringField(validators=[DataRequired(), Length(max=300)])
    title_en = StringField(validators=[DataRequired(), Length(max=300)])
    description_th = TextAreaField(validators=[Length(max=2000)])
    description_en = TextAreaField(validators=[Length(max=2000)])


class WorkshopDetailsForm(FlaskForm):
    """A workshop's place, seats, sign-up deadline and code word (local time)."""

    venue = StringField(validators=[DataRequired(), Length(max=300)])
    map_url = URLField(validators=[Optional(), URL(), Length(max=2000)])
    capacity = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=10000)])
    deadline = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    checkin_code = StringField(validators=[Length(max=32)])


class NewWorkshopForm(WorkshopDetailsForm):
    """A new workshop: which course and when, with its details."""

    course = SelectField(coerce=int)
    starts = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    ends = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[DataRequired()])


class InterviewAnswerForm(FlaskForm):
    """An answer in an assisted interview: a tapped button (its reference comes with the button
    pressed) or typed text, and the page's turn id, so a form sent twice counts once."""

    turn = HiddenField(validators=[Regexp(r"^[0-9a-f]{32}$")])
    text = StringField(validators=[Length(max=2000)])
