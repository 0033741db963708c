"""The console's words for what respondents answered in the profile survey (their group, their
municipality), in the console's language."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.console.sign_in import console_language
from bot.library import PROFILE_FORM_ID
from bot.runtime import runtime
from storage.surveys import latest_versions


def profile_labels(db: Session) -> dict[tuple[str, str], str]:
    """The console-language label of each profile answer, by (question, choice code)."""
    language = console_language()
    version = next((v for v in latest_versions(db) if v.form_id == PROFILE_FORM_ID), None)
    if version is None:
        return {}
    flow = runtime().library.flow(version)
    return {
        (item.name, choice.name): choice.label.get(language)
        or choice.label.get("th")
        or choice.name
        for item in flow.items
        for choice in item.choices
    }


def profile_questions(db: Session) -> dict[str, str]:
    """The console-language wording of each profile question, by its name."""
    language = console_language()
    version = next((v for v in latest_versions(db) if v.form_id == PROFILE_FORM_ID), None)
    if version is None:
        return {}
    return {
        item.name: item.label.get(language) or item.label.get("th") or item.name
        for item in runtime().library.flow(version).items
    }
