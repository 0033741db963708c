"""Importing XLSForms: validate with the engine's loader, then store as a new version."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.library import SurveyLibrary
from storage.models import SurveyVersion
from storage.surveys import latest_versions, save_survey_version
from survey_flows.answer_checks import normalize_text
from survey_flows.engine import COMMANDS
from survey_flows.form import FormError
from survey_flows.xlsform import load_flow


def check_keyword(keyword: str, form_id: str, taken: dict[str, str]) -> None:
    """Refuse a keyword that is a command, or that another survey already starts with."""
    wanted = normalize_text(keyword)
    if wanted in {normalize_text(word) for word in COMMANDS}:
        raise FormError(f"keyword '{keyword}' is a command word; choose another", "settings")
    for other, owner in taken.items():
        if normalize_text(other) == wanted and owner != form_id:
            raise FormError(f"keyword '{keyword}' already starts survey '{owner}'", "settings")


def import_survey(
    session: Session, library: SurveyLibrary, path: Path, now: datetime
) -> tuple[SurveyVersion, bool]:
    """Load the XLSForm at `path` (raising FormError if it is refused) and store it if changed."""
    source = path.read_bytes()
    latest = latest_versions(session)
    flow = load_flow(source, path.name, profile_fields=library.profile_fields(latest))
    taken = {v.keyword: v.form_id for v in latest}
    for version in latest:
        # a stored version that a newer pyxform refuses keeps only its stored keyword
        with suppress(FormError):
            taken.update(dict.fromkeys(library.flow(version).keywords.values(), version.form_id))
    for keyword in flow.keywords.values():
        check_keyword(keyword, flow.form_id, taken)
    return save_survey_version(
        session,
        form_id=flow.form_id,
        form_version=flow.version,
        keyword=flow.keyword,
        filename=path.name,
        source=source,
        now=now,
    )
