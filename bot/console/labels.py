"""The console's words for what the forms define, in the console's language: the profile's
answers and questions (a respondent's group, their municipality), the surveys' titles, the
scored characteristics; and the choices built from them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.console.sign_in import console_language
from bot.library import PROFILE_FORM_ID
from bot.runtime import runtime
from storage.models import SurveyVersion
from storage.surveys import latest_versions
from survey_flows.form import Flow


def profile_labels(db: Session) -> dict[tuple[str, str], str]:
    """The console-language label of each profile answer, by (question, choice code)."""
    flow = _profile_flow(db)
    if flow is None:
        return {}
    return {
        (item.name, choice.name): _words(choice.label, choice.name)
        for item in flow.items
        for choice in item.choices
    }


def profile_questions(db: Session) -> dict[str, str]:
    """The console-language wording of each profile question, by its name."""
    flow = _profile_flow(db)
    return {item.name: _words(item.label, item.name) for item in flow.items} if flow else {}


def profile_choices(db: Session, question: str) -> list[tuple[str, str]]:
    """The answers to one profile question (group, municipality) as (code, label) choices."""
    return [(code, label) for (name, code), label in profile_labels(db).items() if name == question]


def survey_titles(db: Session) -> list[tuple[str, str]]:
    """(form id, title) of each survey respondents take, besides the profile."""
    return [
        (version.form_id, _words(_flow(version).title, version.form_id))
        for version in latest_versions(db)
        if version.form_id != PROFILE_FORM_ID
    ]


def characteristic_choices(db: Session) -> list[tuple[str, str]]:
    """(id, label) of each characteristic the scored surveys measure, once each."""
    choices: dict[str, str] = {}
    for version in latest_versions(db):
        scoring = _flow(version).scoring
        for item in scoring.characteristics if scoring else ():
            choices.setdefault(item.id, _words(item.label, item.id))
    return list(choices.items())


def _profile_flow(db: Session) -> Flow | None:
    version = next((v for v in latest_versions(db) if v.form_id == PROFILE_FORM_ID), None)
    return _flow(version) if version else None


def _flow(version: SurveyVersion) -> Flow:
    return runtime().library.flow(version)


def _words(label: dict[str, str], fallback: str) -> str:
    """A label in the console's language, else in Thai, else its name."""
    return label.get(console_language()) or label.get("th") or fallback
