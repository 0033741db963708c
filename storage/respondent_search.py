"""Finding respondents for the console: by group, municipality, channel and how far they got
in a survey, newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from storage.models import Conversation, Respondent, Submission, SurveyVersion

#: How far someone got in a survey.
COMPLETED, STARTED, NOT_STARTED = "completed", "started", "not_started"
COMPLETIONS = (COMPLETED, STARTED, NOT_STARTED)


@dataclass(frozen=True)
class RespondentFilter:
    """What to look for; an empty field matches everyone."""

    group: str = ""
    municipality: str = ""
    channel: str = ""
    #: The survey (form id) that `completion` is about.
    form_id: str = ""
    completion: str = ""


@dataclass(frozen=True)
class Found:
    """One respondent as the list shows them."""

    respondent: Respondent
    #: How many surveys they completed (each round counts).
    completed: int
    #: Their last turn in the chat (or when they joined).
    last_activity: datetime


def search_respondents(
    session: Session, wanted: RespondentFilter, limit: int | None, offset: int = 0
) -> tuple[list[Found], int]:
    """A page of the real respondents (not simulator test data) that match, newest first (all
    of them when `limit` is None), and how many match in all."""
    chosen = _matching(wanted)
    total = session.scalar(select(func.count()).select_from(chosen.subquery())) or 0
    completed = (
        select(func.count())
        .where(Submission.respondent_id == Respondent.id, Submission.completed_at.is_not(None))
        .correlate(Respondent)
        .scalar_subquery()
    )
    latest = (
        select(Conversation.updated_at)
        .where(Conversation.respondent_id == Respondent.id)
        .correlate(Respondent)
        .scalar_subquery()
    )
    rows = session.execute(
        chosen.add_columns(completed, latest)
        .order_by(Respondent.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        Found(person, done or 0, last or person.created_at) for person, done, last in rows
    ], total


def _matching(wanted: RespondentFilter) -> Select:
    query = select(Respondent).where(Respondent.is_test.is_(False))
    if wanted.group:
        query = query.where(Respondent.profile["group"].as_string() == wanted.group)
    if wanted.municipality:
        query = query.where(Respondent.profile["municipality"].as_string() == wanted.municipality)
    if wanted.channel:
        query = query.where(Respondent.channel == wanted.channel)
    if wanted.form_id and wanted.completion in COMPLETIONS:
        query = query.where(_completion(wanted.form_id, wanted.completion))
    return query


def _completion(form_id: str, completion: str):
    """Whether a respondent got as far as `completion` in the survey `form_id`."""
    done = has_taken(form_id, completed=True)
    if completion == COMPLETED:
        return done
    if completion == STARTED:
        return and_(has_taken(form_id), ~done)
    return ~has_taken(form_id)


def has_taken(form_id: str, *, completed: bool = False):
    """Whether a respondent began (or, `completed`, finished) the survey `form_id`: a condition
    on Respondent for a query's WHERE."""
    return exists().where(
        Submission.respondent_id == Respondent.id,
        Submission.survey_version_id == SurveyVersion.id,
        SurveyVersion.form_id == form_id,
        *([Submission.completed_at.is_not(None)] if completed else []),
    )


def channels_in_use(session: Session) -> list[str]:
    """The channels real respondents have come through."""
    return list(
        session.scalars(
            select(Respondent.channel)
            .where(Respondent.is_test.is_(False))
            .distinct()
            .order_by(Respondent.channel)
        )
    )
