"""The console's broadcasts (coordinators and admins): compose a notice, choose its audience,
see how many it reaches per channel and how it will read, send it now or later, follow it, cancel
it, and download its report."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from bot.broadcasts import (
    LINE,
    Notice,
    cancel_broadcast,
    line_quota,
    plan_broadcast,
    progress,
    send_broadcast,
)
from bot.console.accounts import allowed, audit_here
from bot.console.blueprint import blueprint
from bot.console.downloads import download, excel_csv
from bot.console.forms import ActionForm, BroadcastForm
from bot.console.labels import characteristic_choices, profile_choices, survey_titles
from bot.console.roles import RUNS_WORKSHOPS
from bot.runtime import runtime
from storage.audience import Audience
from storage.models import Broadcast, OutboxMessage, Workshop

#: How often a sending broadcast's page refreshes its figures.
REFRESH_SECONDS = 5


@blueprint.get("/broadcasts")
@allowed(*RUNS_WORKSHOPS)
def broadcasts() -> str:
    """Every broadcast, newest first, with how far each has gone."""
    with runtime().db() as db:
        listed = db.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(100)).all()
        rows = [(b, progress(db, b.id)) for b in listed]
    return render_template("console/broadcasts.html", rows=rows)


@blueprint.route("/broadcasts/new", methods=["GET", "POST"])
@allowed(*RUNS_WORKSHOPS)
def new_broadcast() -> str | Response:
    """Compose: "ดูจำนวนผู้รับ" counts and previews; "ส่ง", once confirmed, sends."""
    rt = runtime()
    form = BroadcastForm()
    with rt.db() as db:
        _fill_choices(db, form)
    plan = None
    if form.validate_on_submit():
        audience = _audience(form)
        wanted = form.send_at.data.replace(tzinfo=rt.tz) if form.send_at.data else None
        notice = Notice(
            form.text_th.data,
            form.text_en.data or "",
            form.link.data or "",
            survey=form.button_survey.data or "",
            workshop_id=int(form.button_workshop.data) if form.button_workshop.data else None,
        )
        plan = plan_broadcast(rt, audience, wanted, form.urgent.data)
        quota = line_quota(rt) if plan.reach.get(LINE) else None
        # each LINE recipient costs one message of the month's quota
        over = quota is not None and quota.exceeded_by(plan.reach.get(LINE, 0))
        if form.confirmed.data and over and not form.over_quota.data:
            flash(_("console.broadcast.confirm_over_quota"), "error")
        elif form.confirmed.data:
            try:
                broadcast_id, _plan = send_broadcast(
                    rt, current_user.actor(), notice, audience, wanted, form.urgent.data
                )
            except ValueError:  # the form checks the words: what is left is a time gone by
                flash(_("console.broadcast.past"), "error")
            else:
                flash(_("console.broadcast.sent"), "ok")
                return redirect(url_for("console.broadcast", broadcast_id=broadcast_id))
        preview = {language: notice.payload(language) for language in ("th", "en")}
        return render_template(
            "console/new_broadcast.html",
            form=form,
            plan=plan,
            preview=preview,
            quota=quota,
            over=over,
        )
    return render_template("console/new_broadcast.html", form=form, plan=None, preview=None)


@blueprint.get("/broadcasts/<int:broadcast_id>")
@allowed(*RUNS_WORKSHOPS)
def broadcast(broadcast_id: int) -> str:
    """One broadcast: its words, its audience, and its progress (refreshing while it sends)."""
    with runtime().db() as db:
        found = db.get(Broadcast, broadcast_id)
        if found is None:
            abort(404)
        counts = progress(db, broadcast_id)
    going = counts["pending"] + counts["sending"] > 0 and found.cancelled_at is None
    return render_template(
        "console/broadcast.html",
        broadcast=found,
        counts=counts,
        refresh=REFRESH_SECONDS if going else None,
    )


@blueprint.post("/broadcasts/<int:broadcast_id>/cancel")
@allowed(*RUNS_WORKSHOPS)
def cancel_broadcast_view(broadcast_id: int) -> Response:
    """Stop a broadcast: what has not gone is withdrawn; what went stays recorded."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        withdrawn = cancel_broadcast(runtime(), current_user.actor(), broadcast_id)
    except LookupError:
        abort(404)
    flash(_("console.broadcast.cancelled", withdrawn=withdrawn), "ok")
    return redirect(url_for("console.broadcast", broadcast_id=broadcast_id))


@blueprint.get("/broadcasts/<int:broadcast_id>/report.csv")
@allowed(*RUNS_WORKSHOPS)
def broadcast_report(broadcast_id: int) -> Response:
    """Each recipient's outcome (by respondent number, not platform id), as CSV for Excel."""
    with runtime().db.begin() as db:
        if db.get(Broadcast, broadcast_id) is None:
            abort(404)
        rows = db.execute(
            select(
                OutboxMessage.respondent_id,
                OutboxMessage.channel,
                OutboxMessage.status,
                OutboxMessage.sent_at,
                OutboxMessage.last_error,
            )
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .order_by(OutboxMessage.id)
        ).all()
        audit_here(db, "broadcast.report", target=f"broadcast:{broadcast_id}")
    return download(
        excel_csv(
            ["respondent", "channel", "status", "sent_at", "reason"],
            (
                [who, channel, status, sent_at.isoformat() if sent_at else "", reason or ""]
                for who, channel, status, sent_at, reason in rows
            ),
        ),
        "text/csv; charset=utf-8",
        f"broadcast-{broadcast_id}.csv",
    )


def _audience(form: BroadcastForm) -> Audience:
    """The filters the form sets."""
    below = float(form.below.data) if form.below.data is not None else None
    return Audience(
        groups=tuple(form.groups.data or ()),
        municipalities=tuple(form.municipalities.data or ()),
        channel=form.channel.data or "",
        workshop_id=int(form.workshop.data) if form.workshop.data else None,
        workshop_part=form.workshop_part.data,
        form_id=form.survey.data or "",
        completed={"yes": True, "no": False}.get(form.completed.data or ""),
        characteristic=form.characteristic.data if below is not None else "",
        below=below if form.characteristic.data else None,
    )


def _fill_choices(db: Session, form: BroadcastForm) -> None:
    """The choices a broadcast's filters offer, in the console's language."""
    rt, anyone = runtime(), ("", _("console.respondents.any"))
    form.groups.choices = profile_choices(db, "group")
    form.municipalities.choices = profile_choices(db, "municipality")
    form.channel.choices = [anyone] + [
        (name, _(f"console.channel.{name}")) for name in ("line", "telegram", "assisted")
    ]
    workshops = db.scalars(
        select(Workshop).options(joinedload(Workshop.course)).order_by(Workshop.starts_at)
    ).all()
    form.workshop.choices = [anyone] + [
        (str(w.id), f"{w.course.title_th} · {w.starts_at.astimezone(rt.tz):%d/%m}")
        for w in workshops
    ]
    form.survey.choices = [anyone, *survey_titles(db)]
    none = ("", _("console.broadcast.no_button"))
    form.button_survey.choices = [none, *survey_titles(db)]
    form.button_workshop.choices = [none] + [
        choice
        for choice, workshop in zip(form.workshop.choices[1:], workshops, strict=True)
        if workshop.starts_at > rt.clock() and workshop.status != "cancelled"
    ]
    form.characteristic.choices = [("", "—"), *characteristic_choices(db)]
