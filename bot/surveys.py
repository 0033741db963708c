"""Importing XLSForms: validate with the engine's loader, then store as a new version."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.library import SurveyLibrary
from storage.models import SurveyVersion
from storage.surveys import latest_versions, save_survey_version
from survey_flows.xlsform import load_flow


def import_survey(
    session: Session, library: SurveyLibrary, path: Path, now: datetime
) -> tuple[SurveyVersion, bool]:
    """Load the XLSForm at `path` (raising FormError if it is refused) and store it if changed."""
    source = path.read_bytes()
    fields = library.profile_fields(latest_versions(session))
    flow = load_flow(source, path.name, profile_fields=fields)
    return save_survey_version(
        session,
        form_id=flow.form_id,
        form_version=flow.version,
        keyword=flow.keyword,
        filename=path.name,
        source=source,
        now=now,
    )
