"""The console's respondents (coordinators and admins): a search by group, municipality, channel
and how far they got, and one respondent's profile, answers, scores, seats and messages."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from bot.console.accounts import allowed
from bot.console.blueprint import blueprint
from bot.console.contact import contact_of
from bot.console.forms import ActionForm
from bot.console.labels import (
    profile_choices,
    profile_labels,
    profile_questions,
    survey_titles,
)
from bot.console.roles import RUNS_WORKSHOPS
from bot.console.sign_in import console_language
from bot.runtime import runtime
from storage.models import (
    Answer,
    ConsentRecord,
    OutboxMessage,
    Registration,
    Respondent,
    Submission,
    Workshop,
)
from storage.respondent_search import (
    COMPLETIONS,
    RespondentFilter,
    channels_in_use,
    search_respondents,
)
from survey_flows.form import Flow

#: Respondents on one page of the search.
PAGE_SIZE = 50
#: No search has more pages than this (a larger number in the address is taken as this).
LAST_PAGE = 100_000
#: The newest messages shown on a respondent's page.
MESSAGES_SHOWN = 50


@blueprint.get("/respondents")
@allowed(*RUNS_WORKSHOPS)
def respondents() -> str:
    """Search respondents; the filters are in the address, so a search can be shared."""
    wanted = RespondentFilter(
        **{
            name: request.args.get(name, "")[:128]
            for name in ("group", "municipality", "channel", "form_id", "completion")
        }
    )
    page = min(max(1, request.args.get("page", 1, type=int) or 1), LAST_PAGE)
    with runtime().db() as db:
        labels = profile_labels(db)
        found, total = search_respondents(db, wanted, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        options = {
            "group": profile_choices(db, "group"),
            "municipality": profile_choices(db, "municipality"),
            "channel": [(c, c) for c in channels_in_use(db)],
            "form_id": survey_titles(db),
            "completion": [(c, c) for c in COMPLETIONS],
        }
    return render_template(
        "console/respondents.html",
        found=found,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        wanted=wanted,
        options=options,
        labels=labels,
    )


@blueprint.get("/respondents/<int:respondent_id>")
@allowed(*RUNS_WORKSHOPS)
def respondent(respondent_id: int) -> str:
    """One respondent: profile, consent, every submission with its answers and scores, their
    workshops and the newest messages sent to them. Their platform id is behind a button."""
    rt = runtime()
    with rt.db() as db:
        person = db.get(Respondent, respondent_id)
        if person is None:
            abort(404)
        labels, questions = profile_labels(db), profile_questions(db)
        shown = {
            "person": person,
            "profile": [
                (questions.get(name, name), labels.get((name, str(value)), str(value)))
                for name, value in person.profile.items()
            ],
            "consents": db.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.respondent_id == respondent_id)
                .order_by(ConsentRecord.id)
            ).all(),
            "submissions": _submissions(db, respondent_id),
            "registrations": db.scalars(
                select(Registration)
                .options(joinedload(Registration.workshop).joinedload(Workshop.course))
                .where(Registration.respondent_id == respondent_id)
                .order_by(Registration.id)
            ).all(),
            "messages": db.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.respondent_id == respondent_id)
                .order_by(OutboxMessage.id.desc())
                .limit(MESSAGES_SHOWN)
            ).all(),
        }
        return render_template("console/respondent.html", action=ActionForm(), **shown)


@blueprint.post("/respondents/<int:respondent_id>/contact")
@allowed(*RUNS_WORKSHOPS)
def respondent_contact(respondent_id: int) -> str:
    """A respondent's channel and platform id, to reach them; every look is audited."""
    if not ActionForm().validate_on_submit():
        abort(400)
    with runtime().db.begin() as db:
        person = db.get(Respondent, respondent_id)
        if person is None:
            abort(404)
        shown = contact_of(db, person)
    return render_template("console/contact.html", contact=shown, respondent_id=respondent_id)


def _submissions(db: Session, respondent_id: int) -> list[dict[str, Any]]:
    """Each run through a survey, newest first, with its answers labelled as the form words
    them and who entered each (the respondent, or a coordinator for them)."""
    submissions = db.scalars(
        select(Submission)
        .options(joinedload(Submission.survey_version))
        .where(Submission.respondent_id == respondent_id)
        .order_by(Submission.id.desc())
    ).all()
    answers: dict[int, list[Answer]] = {}
    for answer in db.scalars(
        select(Answer).where(Answer.respondent_id == respondent_id).order_by(Answer.id)
    ):
        answers.setdefault(answer.submission_id, []).append(answer)
    language = console_language()
    shown = []
    for submission in submissions:
        flow = runtime().library.flow(submission.survey_version)
        shown.append(
            {
                "submission": submission,
                "title": flow.title.get(language) or flow.title.get("th") or flow.form_id,
                "answers": [
                    row
                    for a in answers.get(submission.id, [])
                    if (row := _answer(flow, a, language)) is not None
                ],
                "scores": _scores(flow, submission.scores, language),
            }
        )
    return shown


def _answer(flow: Flow, answer: Answer, language: str) -> dict[str, Any] | None:
    """An answer with its question's words; a changed answer is kept, shown as replaced."""
    item = next((i for i in flow.items if i.name == answer.question), None)
    question = (item.label.get(language) or item.label.get("th")) if item else None
    if item is not None and not question:
        return None  # a calculation the form makes, not a question anyone answered
    return {
        "question": question or answer.question,
        "answer": answer.raw,
        "at": answer.answered_at,
        "entered_by": answer.entered_by,
    }


def _scores(flow: Flow, scores: dict | None, language: str) -> list[tuple[str, float]]:
    """The characteristics' mean scores, by the form's names for them."""
    if not scores or flow.scoring is None:
        return []
    means = scores.get("characteristics", {})
    return [
        (c.label.get(language) or c.label.get("th") or c.id, means[c.id])
        for c in flow.scoring.characteristics
        if c.id in means
    ]
