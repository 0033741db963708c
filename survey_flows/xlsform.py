"""Read an XLSForm with pyxform's parse-only API into a Flow, refusing what a chat cannot ask.

Everything a chat could trip over later is checked here, so a form either loads whole or is
refused with the sheet, the row and a message a form author can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from io import BytesIO
from pathlib import PurePath
from typing import Any

from pyxform import xls2json
from pyxform.errors import PyXFormError
from pyxform.xls2json_backends import Definition, SupportedFileTypes

from survey_flows.expressions import Expression, ExpressionError, compile_expression
from survey_flows.form import LANGUAGES, Choice, Flow, FormError, Item, Kind, Translated, pick
from survey_flows.scoring_form import read_scoring

#: pyxform's type names (after its own alias resolution) mapped to ours.
KINDS = {
    "text": Kind.TEXT,
    "string": Kind.TEXT,
    "integer": Kind.INTEGER,
    "int": Kind.INTEGER,
    "decimal": Kind.DECIMAL,
    "select one": Kind.SELECT_ONE,
    "select all that apply": Kind.SELECT_MULTIPLE,
    "note": Kind.NOTE,
    "date": Kind.DATE,
    "acknowledge": Kind.ACKNOWLEDGE,
    "calculate": Kind.CALCULATE,
}

#: Metadata that ODK fills in by itself; a chat has nothing to ask, so these rows are skipped.
AUTOMATIC_METADATA = frozenset({"start", "end", "today", "deviceid", "simserial", "uri:deviceid"})

#: Keys of a pyxform question that we read or may safely ignore (display hints for ODK Collect).
KNOWN_KEYS = frozenset(
    {
        "type",
        "name",
        "label",
        "hint",
        "bind",
        "children",
        "choices",
        "itemset",
        "list_name",
        "parameters",
        "choice_filter",
        "control",
        "appearance",
        "guidance_hint",
        "instance",
        "sms_field",
    }
)

#: Columns a chat cannot honour; refusing them beats silently ignoring what the author meant.
UNSUPPORTED_KEYS = {
    "media": "images, audio and video in questions are not supported in chat",
    "default": "default answers are not supported in chat",
    "trigger": "triggers are not supported",
}

#: Longest question name we store (the answer table's question column).
MAX_NAME = 120

ROW_IN_MESSAGE = re.compile(r"\[row : (\d+)\]")
LANGUAGE_CODE = re.compile(r"\((\w+)\)\s*$")


def load_flow(source: bytes, filename: str, profile_fields: Iterable[str] | None = None) -> Flow:
    """Load an XLSForm's bytes (.xlsx, .xls, .csv or .md, told by `filename`) or raise FormError.

    `profile_fields`, when given, are the only names profile('name') may read.
    """
    path = PurePath(filename)
    try:
        file_type = SupportedFileTypes(path.suffix.lower())
    except ValueError:
        message = f"'{path.suffix}' files are not XLSForms: use .xlsx, .xls, .csv or .md"
        raise FormError(message) from None
    try:
        definition_data = Definition(
            data=BytesIO(source), file_type=file_type, file_path_stem=path.stem
        )
        workbook = xls2json.get_xlsform(definition_data)
        definition = xls2json.workbook_to_json(
            workbook_dict=workbook,
            form_name="data",
            fallback_form_name=workbook.fallback_form_name,
            default_language="default",
            warnings=[],
        )
    except PyXFormError as error:
        found = ROW_IN_MESSAGE.search(str(error))
        row = int(found.group(1)) if found else None
        message = ROW_IN_MESSAGE.sub("", str(error)).strip()
        raise FormError(message, "survey" if row else None, row) from None
    except Exception as error:  # pyxform crashes on some broken files; refuse them the same way
        raise FormError(f"this file cannot be read as an XLSForm ({error})") from None
    rows = _rows_by_name(workbook.survey)
    profile = None if profile_fields is None else frozenset(profile_fields)
    return _FlowBuilder(definition, rows, profile).build()


def _rows_by_name(survey_rows: list[dict[str, Any]]) -> dict[str, int]:
    """Map each named row to its spreadsheet row number (the header is row 1)."""
    return {row["name"]: index + 2 for index, row in enumerate(survey_rows) if row.get("name")}


def language_code(key: str, default: str) -> str:
    """Turn pyxform's language key ("Thai (th)", "default") into a code ("th")."""
    if key == "default":
        return default
    found = LANGUAGE_CODE.search(key)
    return found.group(1).lower() if found else key.strip().lower()


class _FlowBuilder:
    """Walks pyxform's JSON tree once, flattening groups into items."""

    def __init__(
        self, definition: dict[str, Any], rows: dict[str, int], profile: frozenset[str] | None
    ):
        self.definition = definition
        self.rows = rows
        self.profile = profile
        default = definition.get("default_language", "default")
        self.default_language = language_code(default, LANGUAGES[0]) if default else LANGUAGES[0]
        self.items: list[Item] = []

    def build(self) -> Flow:
        """Return the Flow, or raise FormError for the first row we cannot honour."""
        self._walk(self.definition.get("children", []), relevant=(), section={}, group="")
        seen: dict[str, int] = {}
        for item in self.items:
            if item.name in seen:
                raise FormError(
                    f"the name '{item.name}' is used twice (also on row {seen[item.name]})",
                    "survey",
                    item.row,
                )
            if len(item.name) > MAX_NAME:
                raise FormError(f"names may have at most {MAX_NAME} characters", "survey", item.row)
            seen[item.name] = item.row
        if not any(item.asks for item in self.items):
            raise FormError("the form has no question to ask", "survey")
        self._check_references()
        form_id = str(self.definition.get("id_string") or self.definition.get("name"))
        title = self.definition.get("title") or form_id
        scoring = read_scoring(self.items, self.definition.get("choices", {}), self._text)
        keywords = {
            language: word.strip()
            for language, word in self._text(self.definition.get("keyword")).items()
        } or {self.default_language: form_id}
        return Flow(
            form_id=form_id,
            scoring=scoring,
            version=str(self.definition.get("version") or ""),
            keyword=pick(keywords, self.default_language),
            keywords=keywords,
            title=self._text(title),
            items=tuple(self.items),
            description=self._text(self.definition.get("description")),
            minutes=self._minutes(self.definition.get("minutes")),
        )

    def _minutes(self, value: object) -> int | None:
        """The settings' `minutes`: a whole number of minutes, or none said."""
        if value in (None, ""):
            return None
        text = str(value).strip()
        if not text.isdigit() or not 0 < int(text) <= 600:
            raise FormError("minutes must be a whole number of minutes, 1 to 600", "settings")
        return int(text)

    def _walk(
        self, children: list[dict[str, Any]], relevant: tuple, section: Translated, group: str
    ) -> None:
        for child in children:
            kind, name = child.get("type", ""), child.get("name", "")
            row = self.rows.get(name)
            if kind == "group" and child.get("control", {}).get("bodyless"):
                continue  # pyxform's own meta group (instanceID)
            if kind in AUTOMATIC_METADATA:
                continue
            if kind == "group":
                condition = self._expression(child.get("bind", {}).get("relevant"), "relevant", row)
                inner = relevant + ((condition,) if condition else ())
                label = self._text(child.get("label")) or section
                path = f"{group}/{name}" if group else name
                self._walk(child.get("children", []), inner, label, path)
            elif kind in KINDS:
                item = self._item(child, KINDS[kind], row, relevant, section)
                self.items.append(replace(item, group=group) if group else item)
            elif kind == "repeat":
                raise FormError("repeats are not supported in chat", "survey", row)
            else:
                raise FormError(f"question type '{kind}' is not supported in chat", "survey", row)

    def _item(self, child: dict, kind: Kind, row: int | None, relevant: tuple, section) -> Item:
        for key, reason in UNSUPPORTED_KEYS.items():
            if child.get(key):
                raise FormError(f"column '{key}': {reason}", "survey", row)
        bind = child.get("bind", {})
        own_relevant = self._expression(bind.get("relevant"), "relevant", row)
        if kind is Kind.CALCULATE and not bind.get("calculate"):
            raise FormError("a calculate row needs a calculation", "survey", row)
        if str(child.get("itemset", "")).endswith((".csv", ".xml", ".geojson")):
            raise FormError("choices from an external file are not supported", "survey", row)
        choices = tuple(self._choice(choice) for choice in child.get("choices", []))
        if kind in (Kind.SELECT_ONE, Kind.SELECT_MULTIPLE) and not choices:
            raise FormError(f"'{child.get('list_name')}' has no choices", "choices", row)
        choice_filter = self._expression(child.get("choice_filter"), "choice_filter", row)
        if choice_filter:
            self._check_choice_columns(choice_filter, choices, row)
        return Item(
            name=child["name"],
            kind=kind,
            row=row or 0,
            label=self._text(child.get("label")),
            hint=self._text(child.get("hint")),
            section=section,
            relevant=relevant + ((own_relevant,) if own_relevant else ()),
            required=self._required(bind.get("required"), row),
            required_message=self._text(bind.get("jr:requiredMsg")),
            constraint=self._expression(bind.get("constraint"), "constraint", row),
            constraint_message=self._text(bind.get("jr:constraintMsg")),
            choices=choices,
            choice_filter=choice_filter,
            calculation=self._expression(bind.get("calculate"), "calculation", row),
            extra={k: str(v) for k, v in child.items() if k not in KNOWN_KEYS},
        )

    def _choice(self, choice: dict[str, Any]) -> Choice:
        columns = {k: str(v) for k, v in choice.items() if k not in ("label", "media")}
        return Choice(
            name=str(choice["name"]), label=self._text(choice.get("label")), columns=columns
        )

    def _required(self, value: str | None, row: int | None) -> Expression | None:
        text = str(value or "").strip()
        if text.lower() in ("", "no", "false", "false()"):
            return None
        if text.lower() in ("yes", "true"):
            text = "true()"
        return self._expression(text, "required", row)

    def _expression(self, source: Any, column: str, row: int | None) -> Expression | None:
        if source is None or str(source).strip() == "":
            return None
        try:
            expression = compile_expression(str(source))
        except ExpressionError as error:
            raise FormError(f"column '{column}': {error}", "survey", row) from None
        if column != "choice_filter" and expression.uses_choice_columns:
            names = ", ".join(sorted(expression.uses_choice_columns))
            raise FormError(
                f"column '{column}': write ${{{names}}} instead of {names}", "survey", row
            )
        return expression

    def _check_choice_columns(self, expression: Expression, choices: tuple, row: int | None):
        columns = {"name", "label"}.union(*(choice.columns for choice in choices))
        unknown = sorted(expression.uses_choice_columns - columns)
        if unknown:
            raise FormError(
                f"column 'choice_filter': the choices have no column {', '.join(unknown)}",
                "survey",
                row,
            )

    def _check_references(self) -> None:
        names = {item.name for item in self.items}
        for item in self.items:
            expressions = (
                *item.relevant,
                item.required,
                item.constraint,
                item.choice_filter,
                item.calculation,
            )
            for expression in filter(None, expressions):
                unknown = sorted(expression.profile_fields - (self.profile or set()))
                if self.profile is not None and unknown:
                    raise FormError(
                        f"'{expression.source}' reads profile('{unknown[0]}'), but the profile"
                        f" has only {', '.join(sorted(self.profile)) or 'no fields'}",
                        "survey",
                        item.row,
                    )
                missing = sorted(expression.references - names)
                if missing:
                    raise FormError(
                        f"'{expression.source}' refers to ${{{missing[0]}}},"
                        " which the form does not define",
                        "survey",
                        item.row,
                    )

    def _text(self, value: str | Mapping[str, str] | None) -> Translated:
        """Normalise a label cell (plain or per language) to {code: text}."""
        if not value:
            return {}
        if isinstance(value, str):
            return {self.default_language: value}
        return {
            language_code(key, self.default_language): str(text)
            for key, text in value.items()
            if text
        }
