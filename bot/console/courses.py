"""The console's course and workshop editing: courses (add, change), new workshops, and a
workshop's place, seats, deadline and code word."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from bot.console.accounts import allowed
from bot.console.blueprint import blueprint
from bot.console.forms import CourseForm, NewWorkshopForm, WorkshopDetailsForm
from bot.console.labels import characteristic_choices, profile_choices
from bot.console.roles import RUNS_WORKSHOPS
from bot.console.sign_in import console_language
from bot.coordination import add_workshop, change_workshop, save_course
from bot.runtime import runtime
from storage.courses import all_courses
from storage.models import Course
from storage.workshops import Refused, WorkshopDetails


@blueprint.get("/courses")
@allowed(*RUNS_WORKSHOPS)
def courses() -> str:
    """Every course, to change one or open a workshop of it."""
    with runtime().db() as db:
        listed = all_courses(db)
        groups = profile_choices(db, "group")
    return render_template("console/courses.html", courses=listed, groups=dict(groups))


@blueprint.route("/courses/new", methods=["GET", "POST"], defaults={"course_id": None})
@blueprint.route("/courses/<int:course_id>", methods=["GET", "POST"])
@allowed(*RUNS_WORKSHOPS)
def course(course_id: int | None) -> str | Response:
    """Add a course, or change one (its code stays what it was)."""
    rt = runtime()
    with rt.db() as db:
        existing = db.get(Course, course_id) if course_id is not None else None
        if course_id is not None and existing is None:
            abort(404)
        form = CourseForm(obj=existing)
        form.groups.choices = profile_choices(db, "group")
        form.focus.choices = characteristic_choices(db)
        codes = {c.code for c in all_courses(db)}
    if existing is not None:
        form.code.data = existing.code  # the key workshops and recommendations use
    if form.validate_on_submit():
        row = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
        row |= {"groups": " ".join(form.groups.data), "focus": " ".join(form.focus.data)}
        if existing is None and row["code"].strip() in codes:
            form.code.errors.append(_("console.courses.code_taken"))
        else:
            save_course(rt, current_user.actor(), row)
            flash(_("console.courses.saved"), "ok")
            return redirect(url_for("console.courses"))
    return render_template("console/course.html", form=form, existing=existing)


@blueprint.route("/workshops/new", methods=["GET", "POST"])
@allowed(*RUNS_WORKSHOPS)
def new_workshop() -> str | Response:
    """Open a new workshop of a course for sign-up."""
    rt = runtime()
    form = NewWorkshopForm()
    with rt.db() as db:
        form.course.choices = [(c.id, _course_title(c)) for c in all_courses(db)]
    if form.validate_on_submit():
        starts, ends = (_local(form.starts.data), _local(form.ends.data))
        try:
            workshop_id = add_workshop(
                rt, current_user.actor(), form.course.data, starts, ends, _details(form)
            )
        except Refused as refusal:
            form.starts.errors.append(refusal_words(refusal))
        else:
            flash(_("console.workshops.added"), "ok")
            return redirect(url_for("console.workshop", workshop_id=workshop_id))
    elif not form.is_submitted():
        tomorrow = (rt.clock().astimezone(rt.tz) + timedelta(days=7)).replace(
            hour=9, minute=0, second=0, microsecond=0, tzinfo=None
        )
        form.starts.data, form.ends.data = tomorrow, tomorrow + timedelta(hours=3)
        form.deadline.data, form.capacity.data = tomorrow - timedelta(days=1), 25
    return render_template("console/new_workshop.html", form=form)


@blueprint.post("/workshops/<int:workshop_id>/details")
@allowed(*RUNS_WORKSHOPS)
def workshop_details(workshop_id: int) -> Response:
    """Change a workshop's place, seats, deadline or code word."""
    rt, form = runtime(), WorkshopDetailsForm()
    back = redirect(url_for("console.workshop", workshop_id=workshop_id))
    if not form.validate_on_submit():
        flash(_("console.workshop.details_invalid"), "error")
        return back
    try:
        change = change_workshop(rt, current_user.actor(), workshop_id, _details(form))
    except LookupError:
        abort(404)
    except Refused as refusal:
        flash(refusal_words(refusal), "error")
        return back
    flash(
        _(
            "console.workshop.details_saved",
            promoted=len(change.promoted),
            told=len(change.to_tell),
        ),
        "ok",
    )
    return back


def _details(form: WorkshopDetailsForm) -> WorkshopDetails:
    return WorkshopDetails(
        venue=form.venue.data,
        map_url=form.map_url.data or "",
        capacity=form.capacity.data,
        registration_deadline=_local(form.deadline.data),
        checkin_code=form.checkin_code.data or "",
    )


def refusal_words(refusal: Refused) -> str:
    """Why a workshop change was refused, in the console's words."""
    if refusal.reason == "seats_taken":
        return _("console.workshop.seats_taken", taken=refusal.taken)
    if refusal.reason == "deadline_after_start":
        return _("console.workshop.deadline_after_start")
    if refusal.reason == "too_far":
        return _("console.workshop.too_far")
    return _("console.workshop.move_invalid")


def _local(moment: datetime) -> datetime:
    """A time typed in the form, in Lampang's zone."""
    return moment.replace(tzinfo=runtime().tz)


def _course_title(course: Course) -> str:
    return course.title_th if console_language() == "th" else course.title_en or course.title_th
