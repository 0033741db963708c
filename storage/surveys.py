"""Survey versions: store an imported XLSForm, and find the versions respondents should get."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Submission, SurveyVersion


def save_survey_version(
    session: Session,
    *,
    form_id: str,
    form_version: str,
    keyword: str,
    filename: str,
    source: bytes,
    now: datetime,
) -> tuple[SurveyVersion, bool]:
    """Store the form as a new revision unless it is unchanged; return it and whether it is new."""
    checksum = hashlib.sha256(source).hexdigest()
    latest = latest_version(session, form_id)
    if latest is not None and latest.checksum == checksum:
        return latest, False
    version = SurveyVersion(
        form_id=form_id,
        revision=(latest.revision + 1) if latest else 1,
        form_version=form_version,
        keyword=keyword,
        filename=filename,
        source=source,
        checksum=checksum,
        imported_at=now,
    )
    session.add(version)
    session.flush()
    return version, True


def latest_version(session: Session, form_id: str) -> SurveyVersion | None:
    """Return the newest revision of a form, or None."""
    return session.scalars(
        select(SurveyVersion)
        .where(SurveyVersion.form_id == form_id)
        .order_by(SurveyVersion.revision.desc())
        .limit(1)
    ).first()


def latest_versions(session: Session) -> list[SurveyVersion]:
    """Return the newest revision of every form, oldest form first."""
    newest = (
        select(SurveyVersion.form_id, func.max(SurveyVersion.revision).label("revision"))
        .group_by(SurveyVersion.form_id)
        .subquery()
    )
    return list(
        session.scalars(
            select(SurveyVersion)
            .join(
                newest,
                (SurveyVersion.form_id == newest.c.form_id)
                & (SurveyVersion.revision == newest.c.revision),
            )
            .order_by(SurveyVersion.id)
        )
    )


def next_round(session: Session, respondent_id: int, form_id: str) -> int:
    """The round number of a respondent's next run through a form: completed runs plus one."""
    done = session.scalar(
        select(func.count())
        .select_from(Submission)
        .join(SurveyVersion, SurveyVersion.id == Submission.survey_version_id)
        .where(
            Submission.respondent_id == respondent_id,
            SurveyVersion.form_id == form_id,
            Submission.completed_at.is_not(None),
        )
    )
    return (done or 0) + 1


def latest_scores(session: Session, respondent_id: int) -> dict[str, dict[str, dict[str, float]]]:
    """Scores ({"characteristics", "subfeatures"}) of each form's latest scored submission."""
    rows = session.execute(
        select(SurveyVersion.form_id, Submission.scores)
        .join(SurveyVersion, SurveyVersion.id == Submission.survey_version_id)
        .where(Submission.respondent_id == respondent_id, Submission.scores.is_not(None))
        .order_by(Submission.completed_at)
    )
    # later rows overwrite earlier ones, leaving the latest per form
    return {form_id: scores for form_id, scores in rows}
