"""Assisted interviews in the console: a coordinator answers the survey for a respondent without
a smartphone, from their own phone, over the same engine. Consent and every answer are recorded
as entered by the coordinator; a one-time code later moves the respondent onto their own phone."""

from __future__ import annotations

import uuid
from datetime import datetime

import segno
from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from bot.assisted import CHANNEL, new_identity
from bot.buttons import TappedButton, is_reference, reference
from bot.console.accounts import allowed, audit_here
from bot.console.blueprint import blueprint
from bot.console.forms import ActionForm, InterviewAnswerForm
from bot.console.posters import chat_links
from bot.console.roles import RUNS_WORKSHOPS
from bot.hand_over import hand_over_text
from bot.runtime import runtime
from bot.service import Inbound
from storage.hand_over import CODE_LIFETIME, issue_code
from storage.models import Respondent
from storage.outbox import newest_messages
from storage.respondent_search import RespondentFilter, search_respondents
from survey_flows.session import HelloInput, TextInput

#: Where the browser's session keeps the hand-over code it was shown last.
HAND_OVER_KEY = "hand_over"
#: The interview's newest messages shown (a whole assessment is about a hundred).
MESSAGES_SHOWN = 200


@blueprint.get("/interviews")
@allowed(*RUNS_WORKSHOPS)
def interviews() -> str:
    """The assisted interviews still on this side (not handed over), newest first."""
    with runtime().db() as db:
        found, _total = search_respondents(db, RespondentFilter(channel=CHANNEL), limit=None)
    return render_template("console/interviews.html", found=found)


@blueprint.post("/interviews")
@allowed(*RUNS_WORKSHOPS)
def start_interview() -> Response:
    """Begin an interview: a new proxy respondent, greeted and asked for consent."""
    if not ActionForm().validate_on_submit():
        abort(400)
    rt = runtime()
    identity = new_identity()
    with rt.db.begin() as db:
        person = Respondent(channel=CHANNEL, channel_user_id=identity, created_at=rt.clock())
        db.add(person)
        db.flush()
        audit_here(db, "interview.started", target=f"respondent:{person.id}")
        person_id = person.id
    rt.handle(Inbound(CHANNEL, identity, HelloInput(), entered_by=current_user.email))
    return redirect(url_for("console.interview", respondent_id=person_id) + "#latest")


@blueprint.get("/interviews/<int:respondent_id>")
@allowed(*RUNS_WORKSHOPS)
def interview(respondent_id: int) -> str | Response:
    """The interview so far, and the current question's buttons and answer box."""
    with runtime().db() as db:
        person = _proxy(db, respondent_id)
        if person is None:
            flash(_("console.interview.gone"), "error")
            return redirect(url_for("console.interviews"))
        said = newest_messages(db, respondent_id, MESSAGES_SHOWN)
    latest = said[-1] if said else None
    buttons = [
        (reference(latest.id, index), button["label"])
        for index, button in enumerate(latest.payload.get("buttons") or [] if latest else [])
    ]
    return render_template(
        "console/interview.html",
        person=person,
        said=said,
        buttons=buttons,
        form=InterviewAnswerForm(turn=uuid.uuid4().hex),
    )


@blueprint.post("/interviews/<int:respondent_id>/answer")
@allowed(*RUNS_WORKSHOPS)
def interview_answer(respondent_id: int) -> Response:
    """What the respondent answered, tapped or typed in by the coordinator on their behalf."""
    form = InterviewAnswerForm()
    if not form.validate_on_submit():
        abort(400)
    rt = runtime()
    with rt.db() as db:
        person = _proxy(db, respondent_id)
        if person is None:
            flash(_("console.interview.gone"), "error")
            return redirect(url_for("console.interviews"))
        identity = person.channel_user_id
    tapped = request.form.get("button", "")
    # a tap and typed text together is no answer anyone chose: the question is asked again
    typed = form.text.data or ""
    given = TappedButton(tapped) if is_reference(tapped) and not typed else TextInput(typed)
    # the page's turn id makes a resent form (a double tap, a reload) count once
    rt.handle(
        Inbound(
            CHANNEL,
            identity,
            given,
            event_id=f"{identity}:{form.turn.data}",
            entered_by=current_user.email,
        )
    )
    return redirect(url_for("console.interview", respondent_id=respondent_id) + "#latest")


@blueprint.post("/interviews/<int:respondent_id>/hand-over")
@allowed(*RUNS_WORKSHOPS)
def hand_over(respondent_id: int) -> Response:
    """Make a one-time code that moves the interview onto the respondent's own phone; it is
    kept in this browser's session, so reloading the page shows the same code, not a new one."""
    if not ActionForm().validate_on_submit():
        abort(400)
    rt = runtime()
    with rt.db.begin() as db:
        if _proxy(db, respondent_id) is None:
            abort(404)
        code = issue_code(db, respondent_id, current_user.email, rt.clock())
        audit_here(db, "interview.hand_over_code", target=f"respondent:{respondent_id}")
    until = rt.clock() + CODE_LIFETIME
    session[HAND_OVER_KEY] = {"respondent": respondent_id, "code": code, "until": until.isoformat()}
    return redirect(url_for("console.hand_over_page", respondent_id=respondent_id))


@blueprint.get("/interviews/<int:respondent_id>/hand-over")
@allowed(*RUNS_WORKSHOPS)
def hand_over_page(respondent_id: int) -> str | Response:
    """The code made last, as a QR code per channel and as text to type, while it works."""
    rt = runtime()
    made = session.get(HAND_OVER_KEY) or {}
    until = datetime.fromisoformat(made["until"]) if made.get("until") else None
    if made.get("respondent") != respondent_id or until is None or until <= rt.clock():
        return redirect(url_for("console.interview", respondent_id=respondent_id))
    text = hand_over_text(made["code"])
    links = [
        (link.label, link.url, segno.make(link.url, error="m").svg_data_uri(scale=5))
        for link in chat_links(rt, text, None)
    ]
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    return render_template(
        "console/hand_over.html", text=text, links=links, minutes=minutes, person_id=respondent_id
    )


def _proxy(db: Session, respondent_id: int) -> Respondent | None:
    """The respondent of an assisted interview still on this side; None once handed over (or
    for anyone who is not one)."""
    person = db.get(Respondent, respondent_id)
    return person if person is not None and person.channel == CHANNEL else None
