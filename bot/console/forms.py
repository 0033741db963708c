"""The console's forms (Flask-WTF): each carries its CSRF token and checks what it takes."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
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
from wtforms.validators import (
    URL,
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from bot.console.accounts import MIN_PASSWORD
from bot.console.roles import ROLES

#: WTForms' own English for what it could not read, as the console's catalogs say it.
WTFORMS_WORDS = {
    "Not a valid integer value.": "console.form.not_a_number",
    "Not a valid datetime value.": "console.form.not_a_time",
    "Not a valid choice.": "console.form.not_a_choice",
    "Invalid Choice: could not coerce.": "console.form.not_a_choice",
    "'%(value)s' is not a valid choice for this field.": "console.form.not_a_choice",
    "'%(value)s' are not valid choices for this field.": "console.form.not_a_choice",
    "This field is required.": "console.form.required",
}
#: Years a workshop's times may be typed in: a mistyped year is refused, not stored.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200


class ConsoleWords:
    """WTForms' messages through the console's catalogs, so nothing shows in English on a Thai
    page; what is not listed says the value is not right."""

    def gettext(self, string: str) -> str:
        """The console's words for one of WTForms' messages."""
        return gettext(WTFORMS_WORDS.get(string, "console.form.invalid"))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The same, for a message that WTForms words by number (Thai has one form)."""
        return self.gettext(singular)


class ConsoleForm(FlaskForm):
    """A console form: CSRF from Flask-WTF, messages in the console's language."""

    class Meta:
        def get_translations(self, form):
            """The console's catalogs, not WTForms' (which have no Thai)."""
            return ConsoleWords()


def required() -> DataRequired:
    """Filled in."""
    return DataRequired(message=lazy_gettext("console.form.required"))


def at_most(characters: int) -> Length:
    """No longer than so many characters."""
    return Length(max=characters, message=lazy_gettext("console.form.too_long", max=characters))


def sensible_year(form: FlaskForm, field: DateTimeLocalField) -> None:
    """A time in a year a workshop can be held (so a mistyped 0001 or 9999 is refused)."""
    moment: datetime | None = field.data
    if moment is not None and not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValidationError(gettext("console.form.not_a_time"))


def at_least_one(form: FlaskForm, field: SelectMultipleField) -> None:
    """One choice or more (checked here, not by each checkbox, which the browser would make
    all required)."""
    if not field.data:
        raise ValidationError(gettext("console.form.pick_one"))


def local_time() -> DateTimeLocalField:
    """A date and time typed in the browser's picker, in Lampang's local time."""
    return DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[required(), sensible_year])


class LoginForm(ConsoleForm):
    """Email and password."""

    email = EmailField(validators=[DataRequired(), Length(max=254)])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class PasswordForm(ConsoleForm):
    """The current password, and the new one twice."""

    current = PasswordField(validators=[DataRequired()])
    new = PasswordField(validators=[DataRequired(), Length(min=MIN_PASSWORD, max=1024)])
    again = PasswordField(validators=[DataRequired(), EqualTo("new")])


class NewUserForm(ConsoleForm):
    """An account an admin creates: email, role and a first password."""

    email = EmailField(validators=[DataRequired(), Length(max=254)])
    role = SelectField(choices=list(ROLES))
    password = PasswordField(validators=[DataRequired(), Length(min=MIN_PASSWORD, max=1024)])


class UserChangeForm(ConsoleForm):
    """An admin's change to one account: its role, or whether it may sign in."""

    role = SelectField(choices=list(ROLES))
    active = BooleanField()


class ActionForm(ConsoleForm):
    """A button that changes something: only its CSRF token, and an optional note."""

    note = StringField(validators=[Length(max=200)])


class RescheduleForm(ConsoleForm):
    """A workshop's new start and end, in Lampang's local time."""

    starts = local_time()
    ends = local_time()


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes, easier on a phone than a multiple select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CourseForm(ConsoleForm):
    """A course: its code (kept once made), kind, who it is for, what it builds, its titles."""

    code = StringField(
        validators=[
            required(),
            at_most(64),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message=lazy_gettext("console.courses.code_hint")),
        ]
    )
    kind = SelectField(choices=["upskill", "reskill"])
    groups = CheckboxesField(validators=[at_least_one])
    focus = CheckboxesField(validators=[at_least_one])
    title_th = StringField(validators=[required(), at_most(300)])
    title_en = StringField(validators=[required(), at_most(300)])
    description_th = TextAreaField(validators=[at_most(2000)])
    description_en = TextAreaField(validators=[at_most(2000)])


class WorkshopDetailsForm(ConsoleForm):
    """A workshop's place, seats, sign-up deadline and code word (local time)."""

    venue = StringField(validators=[required(), at_most(300)])
    map_url = URLField(
        validators=[Optional(), URL(message=lazy_gettext("console.form.not_a_link")), at_most(2000)]
    )
    capacity = IntegerField(
        validators=[
            InputRequired(message=lazy_gettext("console.form.required")),
            NumberRange(
                min=1, max=10000, message=lazy_gettext("console.form.seats", min=1, max=10000)
            ),
        ]
    )
    deadline = local_time()
    checkin_code = StringField(validators=[at_most(32)])


class NewWorkshopForm(WorkshopDetailsForm):
    """A new workshop: which course and when, with its details."""

    course = SelectField(coerce=int)
    starts = local_time()
    ends = local_time()


class InterviewAnswerForm(ConsoleForm):
    """An answer in an assisted interview: a tapped button (its reference comes with the button
    pressed) or typed text, and the page's turn id, so a form sent twice counts once."""

    turn = HiddenField(validators=[Regexp(r"^[0-9a-f]{32}$")])
    text = StringField(validators=[Length(max=2000)])


class BroadcastForm(ConsoleForm):
    """A broadcast: its words, who it goes to (every filter set must hold), and when."""

    text_th = TextAreaField(validators=[required(), at_most(2000)])
    text_en = TextAreaField(validators=[at_most(2000)])
    link = URLField(
        validators=[Optional(), URL(message=lazy_gettext("console.form.not_a_link")), at_most(500)]
    )
    #: Buttons under the words: start a survey, open a workshop's sign-up.
    button_survey = SelectField(choices=[""], default="")
    button_workshop = SelectField(choices=[""], default="")
    groups = CheckboxesField()
    municipalities = CheckboxesField()
    channel = SelectField(choices=[""], default="")
    workshop = SelectField(choices=[""], default="")
    workshop_part = SelectField(
        choices=["registered", "waitlisted", "attended"], default="registered"
    )
    survey = SelectField(choices=[""], default="")
    completed = SelectField(choices=["", "yes", "no"], default="")
    characteristic = SelectField(choices=[""], default="")
    below = DecimalField(places=2, validators=[Optional(), NumberRange(min=1, max=5)])
    send_at = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[Optional(), sensible_year])
    urgent = BooleanField()
    confirmed = BooleanField()
    #: Asked for, besides `confirmed`, when LINE's monthly quota would be exceeded.
    over_quota = BooleanField()


class ExportForm(ConsoleForm):
    """An export: the survey, the file, its layout, and the filters (every one set must hold)."""

    survey = SelectField(validators=[required()])
    format = SelectField(choices=["csv", "xlsx", "sav", "codebook", "reliability"], default="xlsx")
    layout = SelectField(choices=["wide", "long"], default="wide")
    groups = CheckboxesField()
    municipalities = CheckboxesField()
    channel = SelectField(choices=[""], default="")
    since = DateField(validators=[Optional()])
    until = DateField(validators=[Optional()])
    partial = BooleanField()
    include_test_data = BooleanField()
