"""Exports for researchers: a survey's submissions, wide (KoBo's layout: a row per submission) or
long (a row per answer, changed ones kept and marked), as CSV, XLSX or SPSS, streamed.

The columns come from the codebook (survey_flows/codebook.py), the rows from storage
(storage/export_rows.py), the file from a writer (bot/export_writers.py, bot/export_sav.py), and
the scales' reliability from survey_flows/reliability.py. Respondents appear only
by pseudonym: a keyed hash of their number, the same in every export with the same key, which
reveals no platform id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.export_sav import SavRows
from bot.export_writers import CsvRows, RowWriter, XlsxRows
from bot.library import SurveyLibrary
from storage.export_rows import (
    ExportedSubmission,
    ExportFilter,
    NothingToExport,
    count_submissions,
    page_answers,
    submission_pages,
    versions_of,
)
from storage.models import Answer
from survey_flows.codebook import META, SCORE, Variable, cells, codebook
from survey_flows.reliability import ReliabilityTally, reliability_rows

#: The long layout's columns: a row per answer.
LONG_COLUMNS = [
    "_uuid",
    "__version__",
    "_respondent",
    "question",
    "raw",
    "value",
    "answered_at",
    "channel",
    "entered_by",
    "superseded",
]
#: `_entered_by` of a submission the respondent answered themself.
SELF = "self"
#: The file formats, each with its writer (bot/export_writers.py, bot/export_sav.py).
FORMATS = ["csv", "xlsx", "sav"]
#: The audit log's action for an export.
EXPORTED = "export.written"


def export_file(
    session: Session,
    library: SurveyLibrary,
    path: Path,
    fmt: str,
    wanted: ExportFilter,
    *,
    reliability: bool = False,
    **options: Any,
) -> Exported:
    """Write the export to `path` in the format (export() takes the options), with the
    reliability tallied when asked (and always for the XLSX, which has its sheet); a file that
    would hold nothing (NothingToExport) is not left behind."""
    reliability = reliability or fmt == "xlsx"
    try:
        if fmt == "sav":
            return export(session, library, SavRows(path), wanted, **options)
        if fmt == "xlsx":
            with path.open("wb") as file:
                return export(
                    session, library, XlsxRows(file), wanted, reliability=reliability, **options
                )
        with path.open("w", newline="", encoding="utf-8") as file:
            return export(
                session, library, CsvRows(file), wanted, reliability=reliability, **options
            )
    except NothingToExport:
        path.unlink(missing_ok=True)
        raise


def survey_codebook(session: Session, library: SurveyLibrary, form_id: str) -> list[Variable]:
    """The codebook of every stored version of a survey (NothingToExport for no such survey)."""
    return codebook([library.flow(version) for version in versions_of(session, form_id)])


def export_entry(wanted: ExportFilter, fmt: str, layout: str, rows: int) -> dict[str, Any]:
    """What the audit log keeps of an export: the survey, the format, the filters, the rows."""
    return {
        "target": f"survey:{wanted.form_id}",
        "format": fmt,
        "layout": layout,
        "filters": wanted.describe(),
        "rows": rows,
    }


@dataclass(frozen=True)
class Exported:
    """What an export wrote: its data rows, its codebook, and its reliability table (header
    first; empty for a form without scales, or in the long layout)."""

    rows: int
    variables: list[Variable]
    reliability: list[list[object]]


def pseudonym(key: bytes, respondent_id: int) -> str:
    """A respondent's name in exports: stable for the key, and telling nothing else."""
    return hmac.new(key, f"respondent:{respondent_id}".encode(), hashlib.sha256).hexdigest()[:16]


def export(
    session: Session,
    library: SurveyLibrary,
    rows: RowWriter,
    wanted: ExportFilter,
    *,
    layout: str,
    tz: ZoneInfo,
    key: bytes,
    progress: Callable[[int], None] = lambda done: None,
    reliability: bool = False,
) -> Exported:
    """Write the export a row at a time, and finish the file; return what it holds.

    NothingToExport for an unknown survey or a filter that leaves no submission in.
    `progress` is told how many submissions are done, a page at a time. With `reliability`
    (and for a scored form in the wide layout), the scales' figures are tallied on the way.
    """
    versions = versions_of(session, wanted.form_id)
    if wanted.versions:
        versions = [v for v in versions if v.form_version in wanted.versions]
    flows = [library.flow(version) for version in versions]
    variables = codebook(flows)
    if not count_submissions(session, wanted):
        raise NothingToExport(f"no submission of {wanted.form_id!r} matches the filters")
    # the newest version's scales; an older version without one of its items is left out of it
    scoring = next((flow.scoring for flow in reversed(flows) if flow.scoring), None)
    tally = ReliabilityTally(scoring) if scoring and reliability else None
    if layout == "long":
        written = _long(session, rows, wanted, tz, key, progress)
    else:
        written = _wide(session, rows, wanted, variables, tz, key, progress, tally)
    table = reliability_rows(tally.figures()) if tally else []
    described = [*variables, *META] if layout == "wide" else variables
    rows.close(described, table)
    return Exported(written, described, table)


def pseudonym_key(config: Mapping[str, Any]) -> bytes:
    """The key of respondents' pseudonyms: PSEUDONYM_KEY, else one drawn from SECRET_KEY (so
    set PSEUDONYM_KEY to keep pseudonyms when SECRET_KEY changes)."""
    given = config.get("PSEUDONYM_KEY") or os.environ.get("PSEUDONYM_KEY")
    if given:
        return str(given).encode()
    secret = str(config.get("SECRET_KEY") or "").encode()
    return hmac.new(secret, b"export pseudonyms", hashlib.sha256).digest()


def _wide(
    session: Session,
    rows: RowWriter,
    wanted: ExportFilter,
    variables: list[Variable],
    tz: ZoneInfo,
    key: bytes,
    progress: Callable[[int], None],
    tally: ReliabilityTally | None,
) -> int:
    """A row per submission: its answers in the codebook's order, its scores, its meta."""
    scores = [v.name for v in variables if v.type == SCORE]
    rows.header(
        [*(v.name for v in variables if v.type != SCORE), *scores, *(m.name for m in META)],
        [*variables, *META],
    )
    written = 0
    for page in submission_pages(session, wanted):
        answers = page_answers(session, [s.id for s in page])
        for submission in page:
            given = answers.latest[submission.id]
            if tally is not None:
                tally.add(given)
            rows.row(
                [
                    *cells(variables, given),
                    *(_score(submission.scores, name) for name in scores),
                    *_meta(submission, tz, key, answers.entered_by.get(submission.id, SELF)),
                ]
            )
            written += 1
        progress(written)
    return written


def _long(
    session: Session,
    rows: RowWriter,
    wanted: ExportFilter,
    tz: ZoneInfo,
    key: bytes,
    progress: Callable[[int], None],
) -> int:
    """A row per answer, oldest first, each marked superseded when a later one replaced it."""
    rows.header(LONG_COLUMNS, [])
    written = done = 0
    for page in submission_pages(session, wanted):
        by_id = {s.id: s for s in page}
        latest: dict[tuple[int, str], int] = {}
        found = session.execute(
            select(Answer).where(Answer.submission_id.in_(by_id)).order_by(Answer.id)
        ).scalars()
        answers = list(found)
        for answer in answers:
            latest[(answer.submission_id, answer.question)] = answer.id
        for answer in answers:
            submission = by_id[answer.submission_id]
            superseded = latest[(answer.submission_id, answer.question)] != answer.id
            rows.row(
                [
                    submission.uuid,
                    submission.version,
                    pseudonym(key, submission.respondent_id),
                    answer.question,
                    answer.raw,
                    _flat(answer.value),
                    _local(answer.answered_at, tz),
                    answer.channel,
                    SELF if answer.entered_by == "respondent" else answer.entered_by,
                    int(superseded),
                ]
            )
            written += 1
        done += len(page)
        progress(done)
    return written


def _meta(submission: ExportedSubmission, tz: ZoneInfo, key: bytes, entered: str) -> list:
    return [
        submission.uuid,
        _local(submission.completed_at or submission.started_at, tz),
        _local(submission.started_at, tz),
        submission.version,
        pseudonym(key, submission.respondent_id),
        submission.group,
        submission.municipality,
        submission.channel,
        submission.round,
        entered,
    ]


def _score(scores: dict | None, column: str) -> float | None:
    """A submission's score for a `score_<id>` column (sub-feature or characteristic)."""
    wanted = column.removeprefix("score_")
    for part in ("subfeatures", "characteristics"):
        value = ((scores or {}).get(part) or {}).get(wanted)
        if value is not None:
            return round(float(value), 4)
    return None


def _flat(value: object) -> object:
    """A stored value as one cell: a select_multiple's picks space-separated (as KoBo)."""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return value


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(tz)
