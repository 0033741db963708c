"""Asking one question and reading its answer: buttons, typed text, and the form's checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from survey_flows import answer_checks
from survey_flows.expressions import Scope, Value
from survey_flows.form import Choice, Flow, Item, Kind, pick
from survey_flows.session import Answer, Button, Message, Msg, Part

#: Longest free-text answer we keep; longer text is almost always a paste by mistake.
MAX_TEXT_ANSWER = 2000

#: The pseudo-choice value of the "done" button of a select_multiple and of "skip".
DONE, SKIP = "_done", "_skip"


@dataclass(frozen=True)
class Rejected:
    """Why an answer was refused, and what to tell the respondent."""

    reason: str
    message: Part


def answers_scope(
    flow: Flow, answers: Mapping[str, Answer], profile: Mapping, today: date
) -> Scope:
    """Return what expressions see: the answers (dates as dates), the profile and today."""
    kinds = {item.name: item.kind for item in flow.items}
    values: dict[str, Value] = {}
    for name, answer in answers.items():
        if kinds.get(name) is Kind.DATE and isinstance(answer, str):
            values[name] = date.fromisoformat(answer)
        else:
            values[name] = answer
    return Scope(values=values, today=today, profile=profile)


def is_relevant(item: Item, scope: Scope) -> bool:
    """Whether every relevant condition on the item (and its groups) holds."""
    return all(condition.is_true(scope) for condition in item.relevant)


def is_required(item: Item, scope: Scope) -> bool:
    """Whether the respondent must answer the item."""
    if item.kind is Kind.ACKNOWLEDGE:
        return True
    return bool(item.required and item.required.is_true(scope))


def visible_choices(item: Item, scope: Scope) -> tuple[Choice, ...]:
    """Return the item's choices that pass its choice_filter."""
    if not item.choice_filter:
        return item.choices
    return tuple(
        choice
        for choice in item.choices
        if item.choice_filter.is_true(replace(scope, choice={"label": "", **choice.columns}))
    )


def question_message(
    item: Item,
    language: str,
    choices: tuple[Choice, ...],
    picked: list[str],
    required: bool,
    progress: tuple[int, int] | None,
    key: str,
) -> Message:
    """Render the question as a chat message; its buttons carry `key` to tell stale ones."""
    parts: list[Part] = [pick(item.label, language) or item.name]
    if hint := pick(item.hint, language):
        parts.append(hint)
    parts.extend(_kind_hint(item, language, choices, picked))
    buttons: list[Button] = []
    if item.kind in (Kind.SELECT_ONE, Kind.SELECT_MULTIPLE):
        buttons = [
            Button(pick(choice.label, language) or choice.name, key, choice.name)
            for choice in choices
            if choice.name not in picked
        ]
    if item.kind is Kind.SELECT_MULTIPLE and (picked or not required):
        buttons.append(Button(Msg("button.done"), key, DONE))
    elif item.kind is Kind.ACKNOWLEDGE:
        buttons.append(Button(Msg("button.acknowledge"), key, "OK"))
    elif not required and item.kind is not Kind.SELECT_MULTIPLE:
        buttons.append(Button(Msg("button.skip"), key, SKIP))
    return Message(tuple(parts), tuple(buttons), progress)


def _kind_hint(item: Item, language: str, choices: tuple, picked: list[str]) -> list[Part]:
    if item.kind is Kind.DATE:
        return [Msg("hint.date")]
    if item.kind is Kind.SELECT_MULTIPLE:
        if not picked:
            return [Msg("hint.select_multiple")]
        labels = [pick(c.label, language) or c.name for c in choices if c.name in picked]
        return [Msg("hint.picked", {"choices": ", ".join(labels)})]
    return []


def choice_label(choices: tuple[Choice, ...], name: str, language: str) -> str:
    """Return the label of the choice called `name`, as the respondent saw it."""
    return next((pick(c.label, language) or c.name for c in choices if c.name == name), name)


def read_typed(
    item: Item, text: str, choices: tuple[Choice, ...], today: date
) -> Answer | Rejected:
    """Turn typed text into the item's value, or say what was wrong with it."""
    if item.kind is Kind.TEXT:
        if len(text) > MAX_TEXT_ANSWER:
            return Rejected("too_long", Msg("error.too_long"))
        return text
    if item.kind is Kind.INTEGER:
        value = answer_checks.parse_integer(text)
        return Rejected("not_integer", Msg("error.integer")) if value is None else value
    if item.kind is Kind.DECIMAL:
        value = answer_checks.parse_decimal(text)
        return Rejected("not_decimal", Msg("error.decimal")) if value is None else value
    if item.kind is Kind.DATE:
        value = answer_checks.parse_date(text, today)
        return Rejected("not_date", Msg("error.date")) if value is None else value.isoformat()
    options = [(c.name, list(c.label.values())) for c in choices]
    if item.kind is Kind.SELECT_ONE:
        name = answer_checks.match_choice(text, options)
        return Rejected("not_a_choice", Msg("error.choice")) if name is None else name
    if item.kind is Kind.SELECT_MULTIPLE:
        names = answer_checks.match_choices(text, options)
        return names or Rejected("not_a_choice", Msg("error.choice"))
    # acknowledge: any yes-like word will do
    if answer_checks.parse_yes_no(text):
        return "OK"
    return Rejected("not_acknowledged", Msg("error.acknowledge"))


def check_constraint(item: Item, value: Answer, scope: Scope, language: str) -> Rejected | None:
    """Return Rejected when the form's constraint refuses `value`, else None."""
    if not item.constraint:
        return None
    current = (
        date.fromisoformat(value) if item.kind is Kind.DATE and isinstance(value, str) else value
    )
    if item.constraint.is_true(replace(scope, current=current)):
        return None
    message = pick(item.constraint_message, language)
    return Rejected("constraint", message or Msg("error.constraint"))
