"""Exports for researchers: the latest answer to each question, wide or long, as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.library import SurveyLibrary
from storage.models import Answer, Respondent, Submission, SurveyVersion

SUBMISSION_COLUMNS = [
    "submission",
    "respondent",
    "channel",
    "form_id",
    "revision",
    "form_version",
    "started_at",
    "completed_at",
]
LONG_COLUMNS = [
    *SUBMISSION_COLUMNS,
    "question",
    "raw",
    "value",
    "answered_at",
    "answer_channel",
    "entered_by",
]


def export_csv(
    session: Session,
    library: SurveyLibrary,
    out: Path,
    *,
    form_id: str | None,
    layout: str,
    tz: ZoneInfo,
    include_test_data: bool = False,
) -> int:
    """Write the export to `out` (UTF-8 with BOM, so Excel shows Thai); return the data rows.

    Test respondents' answers (the web simulator's) are left out unless `include_test_data`.
    """
    answers = list(_latest_answers(session, form_id, include_test_data))
    with out.open("w", newline="", encoding="utf-8-sig") as file:
        writer = csv.writer(file)
        if layout == "long":
            writer.writerow(LONG_COLUMNS)
            for submission, answer in answers:
                writer.writerow(
                    [
                        *_submission_cells(submission, tz),
                        answer.question,
                        answer.raw,
                        cell(answer.value),
                        _time(answer.answered_at, tz),
                        answer.channel,
                        answer.entered_by,
                    ]
                )
            return len(answers)
        return _write_wide(writer, session, library, answers, form_id, tz)


def _write_wide(writer, session, library, answers, form_id, tz) -> int:
    """One row per completed submission, one column per question in form order."""
    questions = _question_order(session, library, form_id)
    by_submission: dict[int, tuple[Submission, dict[str, object]]] = {}
    for submission, answer in answers:
        if submission.completed_at is None:
            continue
        by_submission.setdefault(submission.id, (submission, {}))[1][answer.question] = answer.value
    writer.writerow([*SUBMISSION_COLUMNS, *questions])
    for submission, values in by_submission.values():
        writer.writerow(
            [*_submission_cells(submission, tz), *(cell(values.get(q)) for q in questions)]
        )
    return len(by_submission)


def _latest_answers(
    session: Session, form_id: str | None, include_test_data: bool
) -> Iterator[tuple[Submission, Answer]]:
    """The newest answer to each question of each submission, in submission and answer order."""
    newest = (
        select(func.max(Answer.id))
        .group_by(Answer.submission_id, Answer.question)
        .scalar_subquery()
    )
    query = (
        select(Submission, Answer)
        .join(Answer, Answer.submission_id == Submission.id)
        .join(SurveyVersion, SurveyVersion.id == Submission.survey_version_id)
        .where(Answer.id.in_(newest))
        .order_by(Submission.id, Answer.id)
    )
    if form_id:
        query = query.where(SurveyVersion.form_id == form_id)
    if not include_test_data:
        query = query.join(Respondent, Respondent.id == Submission.respondent_id).where(
            Respondent.is_test.is_(False)
        )
    yield from session.execute(query)  # rows unpack as (submission, answer)


def _question_order(session: Session, library: SurveyLibrary, form_id: str | None) -> list[str]:
    """Every question name of the exported forms' versions, in form order, each once."""
    query = select(SurveyVersion).order_by(SurveyVersion.form_id, SurveyVersion.revision)
    if form_id:
        query = query.where(SurveyVersion.form_id == form_id)
    names: dict[str, None] = {}
    for version in session.scalars(query):
        flow = library.flow(version)
        names.update((item.name, None) for item in flow.items if item.asks or item.calculation)
    return list(names)


def _submission_cells(submission: Submission, tz: ZoneInfo) -> list[object]:
    version = submission.survey_version
    return [
        submission.uuid,
        submission.respondent_id,
        submission.channel,
        version.form_id,
        version.revision,
        version.form_version,
        _time(submission.started_at, tz),
        _time(submission.completed_at, tz),
    ]


def cell(value: object) -> object:
    """Write a stored value as a spreadsheet cell: multi-picks space-separated (as KoBo does)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return value


def _time(moment: datetime | None, tz: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(tz).isoformat(timespec="seconds")
