"""The console's home and its workshop pages: the list, one workshop's registrations with
attendance at the door, a registrant's contact (audited), and cancelling."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from werkzeug.wrappers import Response

from bot.console.accounts import allowed
from bot.console.blueprint import blueprint
from bot.console.contact import contact_of
from bot.console.courses import refusal_words
from bot.console.forms import ActionForm, RescheduleForm, WorkshopDetailsForm
from bot.console.labels import profile_labels, survey_titles
from bot.console.roles import ROLES, RUNS_WORKSHOPS
from bot.console.sign_in import console_language
from bot.coordination import cancel_workshop, mark_attendance, reschedule_workshop
from bot.runtime import runtime
from bot.thai_dates import format_thai_datetime
from storage.models import Registration, Respondent, Workshop
from storage.workshops import Refused


@blueprint.get("/")
@allowed(*ROLES)
def home() -> str:
    """Coordinators and admins: the workshops; researchers: who has joined, by group and
    municipality (counts only)."""
    with runtime().db() as db:
        if current_user.role not in RUNS_WORKSHOPS:
            by_place = _respondents_by_place(db)
            return render_template("console/home.html", groups=sorted(by_place.items()))
        workshops = db.scalars(
            select(Workshop).options(joinedload(Workshop.course)).order_by(Workshop.starts_at)
        ).all()
        seats = db.execute(select(Registration.workshop_id, Registration.status))
        counts = Counter(tuple(row) for row in seats)
        rows = [_workshop_row(w, counts) for w in workshops]
        surveys = survey_titles(db)
    return render_template("console/home.html", workshops=rows, surveys=surveys)


def _respondents_by_place(db: Session) -> Counter[tuple[str, str]]:
    """How many real respondents there are in each (group, municipality), by their labels."""
    labels = profile_labels(db)
    profiles = db.scalars(select(Respondent.profile).where(Respondent.is_test.is_(False)))
    return Counter(
        (
            labels.get(("group", p.get("group")), "—"),
            labels.get(("municipality", p.get("municipality")), "—"),
        )
        for p in profiles
    )


@blueprint.get("/workshops/<int:workshop_id>")
@allowed(*RUNS_WORKSHOPS)
def workshop(workshop_id: int) -> str:
    """One workshop: its seats and waitlist, attendance buttons, and cancelling."""
    rt = runtime()
    with rt.db() as db:
        found = db.get(Workshop, workshop_id, options=[joinedload(Workshop.course)])
        if found is None:
            abort(404)
        people = registrants(db, workshop_id)
        row = _workshop_row(found, Counter((workshop_id, p["status"]) for p in people))
    local = {"starts": found.starts_at.astimezone(rt.tz), "ends": found.ends_at.astimezone(rt.tz)}
    move = RescheduleForm(data={k: v.replace(tzinfo=None) for k, v in local.items()})
    deadline = found.registration_deadline.astimezone(rt.tz).replace(tzinfo=None)
    return render_template(
        "console/workshop.html",
        workshop=row,
        people=people,
        action=ActionForm(),
        move=move,
        details=WorkshopDetailsForm(obj=found, deadline=deadline),
    )


@blueprint.post("/workshops/<int:workshop_id>/reschedule")
@allowed(*RUNS_WORKSHOPS)
def reschedule(workshop_id: int) -> Response:
    """Move the workshop: its reminders move with it and its registrants are told."""
    form = RescheduleForm()
    if not form.validate_on_submit():
        flash(_("console.workshop.move_invalid"), "error")
        return redirect(url_for("console.workshop", workshop_id=workshop_id))
    rt = runtime()
    starts, ends = (moment.replace(tzinfo=rt.tz) for moment in (form.starts.data, form.ends.data))
    try:
        told = reschedule_workshop(rt, current_user.actor(), workshop_id, starts, ends)
    except LookupError:
        abort(404)
    except Refused as refusal:  # ends before it starts, into the past, years away
        flash(refusal_words(refusal), "error")
        return redirect(url_for("console.workshop", workshop_id=workshop_id))
    flash(_("console.workshop.moved", told=told), "ok")
    return redirect(url_for("console.workshop", workshop_id=workshop_id))


@blueprint.post("/registrations/<int:registration_id>/attendance/<any(attended, no_show):mark>")
@allowed(*RUNS_WORKSHOPS)
def attendance(registration_id: int, mark: str) -> Response:
    """Mark someone as come or not come, at the door."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        workshop_id = mark_attendance(
            runtime(), current_user.actor(), registration_id, mark == "attended"
        )
    except LookupError:
        abort(404)
    flash(_("console.attendance.saved"), "ok")
    return redirect(url_for("console.workshop", workshop_id=workshop_id) + f"#r{registration_id}")


@blueprint.post("/registrations/<int:registration_id>/contact")
@allowed(*RUNS_WORKSHOPS)
def contact(registration_id: int) -> str:
    """A registrant's channel and platform id, to reach them; every look is audited."""
    if not ActionForm().validate_on_submit():
        abort(400)
    with runtime().db.begin() as db:
        registration = db.get(Registration, registration_id)
        if registration is None:
            abort(404)
        shown = contact_of(db, db.get(Respondent, registration.respondent_id))
        workshop_id = registration.workshop_id
    return render_template("console/contact.html", contact=shown, workshop_id=workshop_id)


@blueprint.post("/workshops/<int:workshop_id>/cancel")
@allowed(*RUNS_WORKSHOPS)
def cancel(workshop_id: int) -> Response:
    """Cancel the workshop: its registrants are told, their reminders withdrawn."""
    if not ActionForm().validate_on_submit():
        abort(400)
    rt = runtime()
    try:
        told = cancel_workshop(rt, current_user.actor(), workshop_id)
    except LookupError:
        abort(404)
    flash(_("console.workshop.cancelled", told=told), "ok")
    return redirect(url_for("console.workshop", workshop_id=workshop_id))


def registrants(db: Session, workshop_id: int) -> list[dict[str, Any]]:
    """A workshop's registrations as the console shows them: seats in the order taken, then the
    waitlist in its order (so marking attendance at the door moves nobody up or down)."""
    labels = profile_labels(db)
    rows = db.execute(
        select(Registration, Respondent)
        .join(Respondent, Respondent.id == Registration.respondent_id)
        .where(Registration.workshop_id == workshop_id)
        .order_by(Registration.status == "waitlisted", Registration.waitlisted_at, Registration.id)
    ).all()
    return [
        {
            "id": registration.id,
            "status": registration.status,
            "group": labels.get(("group", person.profile.get("group")), "—"),
            "municipality": labels.get(("municipality", person.profile.get("municipality")), "—"),
            "channel": person.channel,
            "registered_at": registration.created_at,
        }
        for registration, person in rows
    ]


def _workshop_row(workshop: Workshop, counts: Counter) -> dict[str, Any]:
    """What the pages show of a workshop."""
    tz, language = runtime().tz, console_language()
    seated = sum(counts[(workshop.id, s)] for s in ("registered", "attended", "no_show"))
    return {
        "id": workshop.id,
        "title": workshop.course.title_th
        if language == "th"
        else workshop.course.title_en or workshop.course.title_th,
        "starts": format_thai_datetime(workshop.starts_at.astimezone(tz), language),
        "venue": workshop.venue,
        "status": workshop.status,
        "seated": seated,
        "capacity": workshop.capacity,
        "waitlisted": counts[(workshop.id, "waitlisted")],
        "open": workshop.status not in ("cancelled", "done"),
    }
