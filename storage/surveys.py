"""Survey versions: store an imported XLSForm, and find the versions respondents should get."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import SurveyVersion


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
