"""The rows of a researcher's export, streamed in order: the submissions a filter leaves in, with
their respondent's group and municipality, and each one's answers.

Nothing is loaded whole: submissions come a page at a time (by id), and the answers of one page
with one query, so an export of a million answers runs in the memory of one page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from storage.models import Answer, Respondent, Submission, SurveyVersion

#: Submissions read per query (with their answers): the memory an export needs.
PAGE = 500


class NothingToExport(LookupError):
    """The filter names no survey, or leaves no submission in: said, rather than an empty file."""


@dataclass(frozen=True)
class ExportFilter:
    """Which submissions of one survey an export holds; every filter set must hold."""

    form_id: str
    #: Form versions (as the forms name them); empty for all.
    versions: tuple[str, ...] = ()
    #: Started at or after `since`, before `until`.
    since: datetime | None = None
    until: datetime | None = None
    groups: tuple[str, ...] = ()
    municipalities: tuple[str, ...] = ()
    rounds: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()
    completed_only: bool = True
    #: The web simulator's test respondents are left out unless asked for.
    include_test_data: bool = False

    def describe(self) -> dict[str, object]:
        """The filters that are set, for the audit log."""
        shown = {
            "survey": self.form_id,
            "versions": list(self.versions),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "groups": list(self.groups),
            "municipalities": list(self.municipalities),
            "rounds": list(self.rounds),
            "channels": list(self.channels),
            "completed_only": self.completed_only,
            "include_test_data": self.include_test_data,
        }
        return {key: value for key, value in shown.items() if value not in (None, [])}


@dataclass(frozen=True)
class ExportedSubmission:
    """One submission as an export row needs it."""

    id: int
    uuid: str
    respondent_id: int
    version: str
    revision: int
    channel: str
    round: int
    started_at: datetime
    completed_at: datetime | None
    scores: dict | None
    group: str
    municipality: str


def versions_of(session: Session, form_id: str) -> list[SurveyVersion]:
    """The stored versions of a form, oldest first; NothingToExport for a form never stored."""
    found = list(
        session.scalars(
            select(SurveyVersion)
            .where(SurveyVersion.form_id == form_id)
            .order_by(SurveyVersion.revision)
        )
    )
    if not found:
        known = ", ".join(sorted(set(session.scalars(select(SurveyVersion.form_id))))) or "none"
        raise NothingToExport(f"no survey {form_id!r} (surveys: {known})")
    return found


def count_submissions(session: Session, wanted: ExportFilter) -> int:
    """How many submissions the filter leaves in."""
    return session.scalar(select(func.count()).select_from(_matching(wanted).subquery())) or 0


def submission_pages(session: Session, wanted: ExportFilter) -> Iterator[list[ExportedSubmission]]:
    """The submissions the filter leaves in, oldest first, a page (one query) at a time."""
    after = 0
    while True:
        page = (
            session.connection()
            .execute(
                _matching(wanted).where(Submission.id > after).order_by(Submission.id).limit(PAGE)
            )
            .all()
        )
        if page:
            yield [ExportedSubmission(*row) for row in page]
        if len(page) < PAGE:
            return
        after = page[-1].id


@dataclass
class PageAnswers:
    """The answers of a page of submissions: each one's newest answer to each question, and
    who entered them when it was not the respondent."""

    latest: dict[int, dict[str, object]]
    entered_by: dict[int, str]


def page_answers(session: Session, submission_ids: list[int]) -> PageAnswers:
    """Read a page's answers once, oldest first: a later answer to a question replaces the one
    before (cheaper than asking the database for the newest of each: few are ever changed)."""
    found = PageAnswers({i: {} for i in submission_ids}, {})
    # through the connection: plain rows, without the ORM's per-row work
    rows = session.connection().execute(
        select(Answer.submission_id, Answer.question, Answer.value, Answer.entered_by)
        .where(Answer.submission_id.in_(submission_ids))
        .order_by(Answer.id)
    )
    for submission_id, question, value, entered_by in rows:
        found.latest[submission_id][question] = value
        if entered_by != "respondent":
            found.entered_by[submission_id] = entered_by
    return found


def _matching(wanted: ExportFilter) -> Select:
    """The submissions' export columns, for the filter."""
    group = Respondent.profile["group"].as_string()
    municipality = Respondent.profile["municipality"].as_string()
    query = (
        select(
            Submission.id,
            Submission.uuid,
            Submission.respondent_id,
            SurveyVersion.form_version,
            SurveyVersion.revision,
            Submission.channel,
            Submission.round,
            Submission.started_at,
            Submission.completed_at,
            Submission.scores,
            func.coalesce(group, ""),
            func.coalesce(municipality, ""),
        )
        .join(SurveyVersion, SurveyVersion.id == Submission.survey_version_id)
        .join(Respondent, Respondent.id == Submission.respondent_id)
        .where(SurveyVersion.form_id == wanted.form_id)
    )
    if wanted.versions:
        query = query.where(SurveyVersion.form_version.in_(wanted.versions))
    if wanted.since:
        query = query.where(Submission.started_at >= wanted.since)
    if wanted.until:
        query = query.where(Submission.started_at < wanted.until)
    if wanted.groups:
        query = query.where(group.in_(wanted.groups))
    if wanted.municipalities:
        query = query.where(municipality.in_(wanted.municipalities))
    if wanted.rounds:
        query = query.where(Submission.round.in_(wanted.rounds))
    if wanted.channels:
        query = query.where(Submission.channel.in_(wanted.channels))
    if wanted.completed_only:
        query = query.where(Submission.completed_at.is_not(None))
    if not wanted.include_test_data:
        query = query.where(Respondent.is_test.is_(False))
    return query
