"""A flow definition: the questions of one survey version, as plain immutable data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from survey_flows.expressions import Expression

if TYPE_CHECKING:
    from survey_flows.scoring import Scoring

#: The languages the bot speaks; the first is the default.
LANGUAGES: tuple[str, ...] = ("th", "en")


class Kind(StrEnum):
    """The question types the engine can ask."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    NOTE = "note"
    DATE = "date"
    ACKNOWLEDGE = "acknowledge"
    CALCULATE = "calculate"


#: Kinds that wait for the respondent to answer.
ASKING_KINDS = frozenset(
    {
        Kind.TEXT,
        Kind.INTEGER,
        Kind.DECIMAL,
        Kind.SELECT_ONE,
        Kind.SELECT_MULTIPLE,
        Kind.DATE,
        Kind.ACKNOWLEDGE,
    }
)

#: Text in each language, keyed by language code ("th", "en").
Translated = dict[str, str]


def pick(text: Translated, language: str) -> str:
    """Return the text in `language`, else Thai, else any language, else ""."""
    for code in (language, LANGUAGES[0], *text):
        if text.get(code):
            return text[code]
    return ""


@dataclass(frozen=True)
class Choice:
    """One option of a choice list; `columns` holds extra columns for choice_filter."""

    name: str
    label: Translated
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """One row of the survey sheet, with its group conditions folded in."""

    name: str
    kind: Kind
    row: int
    label: Translated = field(default_factory=dict)
    hint: Translated = field(default_factory=dict)
    section: Translated = field(default_factory=dict)
    #: The names of the groups it is in, outermost first, joined by "/" ("" outside any): an
    #: export's column is this path and the name, as KoBo writes it ("part1/c1_1_a").
    group: str = ""
    relevant: tuple[Expression, ...] = ()
    required: Expression | None = None
    required_message: Translated = field(default_factory=dict)
    constraint: Expression | None = None
    constraint_message: Translated = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    choice_filter: Expression | None = None
    calculation: Expression | None = None
    #: Columns the XLSForm standard does not define (e.g. scoring metadata), kept as text.
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def asks(self) -> bool:
        """Whether this item waits for an answer."""
        return self.kind in ASKING_KINDS


@dataclass(frozen=True)
class Flow:
    """One version of one survey."""

    form_id: str
    version: str
    keyword: str  # in the form's default language; it is stored with the version
    title: Translated
    items: tuple[Item, ...]
    #: How the form is scored, when it declares scoring columns (see survey_flows/scoring.py).
    scoring: Scoring | None = None
    #: The word that starts it, by language (settings `keyword::English (en)`); any one works.
    keywords: Translated = field(default_factory=dict)
    #: One line for the survey menu: what it is about (settings `description`).
    description: Translated = field(default_factory=dict)
    #: About how long it takes (settings `minutes`), said on the menu and its button.
    minutes: int | None = None

    def item(self, name: str) -> Item:
        """Return the item called `name`."""
        return next(item for item in self.items if item.name == name)

    def index(self, name: str) -> int:
        """Return the position of the item called `name`."""
        return next(i for i, item in enumerate(self.items) if item.name == name)


@dataclass
class FormError(ValueError):
    """A form we refuse to load, pointing at the sheet and row to fix."""

    message: str
    sheet: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"sheet '{self.sheet}'" if self.sheet else "",
                f"row {self.row}" if self.row else "",
            )
            if part
        )
        return f"{where}: {self.message}" if where else self.message
