"""The values that cross the engine's boundary: state, inputs, context, outputs and events."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from survey_flows.form import Flow

#: An answer as kept in the state and stored: JSON-ready (dates as ISO text, multi-picks as lists).
Answer = str | int | float | list[str] | None


class Stage(StrEnum):
    """Where a respondent is in the conversation."""

    NEW = "new"  # never talked to us
    CONSENT = "consent"  # waiting for yes/no to the PDPA notice
    DECLINED = "declined"  # said no; we keep only that fact
    SURVEY = "survey"  # inside a flow (the profile or a survey)
    IDLE = "idle"  # consented, no flow in progress


@dataclass
class State:
    """A respondent's conversation, as a plain value the shell stores as JSON."""

    stage: Stage = Stage.NEW
    language: str = "th"
    flow: str | None = None  # handle of the flow in progress (see Context.flows)
    question: str | None = None  # name of the item waiting for an answer
    answers: dict[str, Answer] = field(default_factory=dict)
    trail: list[str] = field(default_factory=list)  # answered questions, for "back"
    picked: list[str] = field(default_factory=list)  # select_multiple taps so far
    paused: bool = False
    #: Ids of the workshops listed on screen, in their numbered order, so a typed number picks
    #: one; forgotten at the next message.
    browsing: list[str] = field(default_factory=list)
    pending: str | None = None  # handle of the survey asked for before consent or profile
    #: The questions after a workshop: {"workshop", "title", "rating", "waiting"}, or None.
    feedback: dict[str, Any] | None = None

    def copy(self) -> State:
        """A deep copy, so a turn never changes the state it was given."""
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """Return the state as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> State:
        """Rebuild a state stored by to_json (None gives a new respondent's state)."""
        if not data:
            return cls()
        known = {
            key: copy.deepcopy(value)
            for key, value in data.items()
            if key in cls.__dataclass_fields__
        }
        state = cls(**known)
        state.stage = Stage(state.stage)
        return state


# Inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextInput:
    """Text the respondent typed."""

    text: str


@dataclass(frozen=True)
class TapInput:
    """A button the respondent pressed: the question it belonged to and its value."""

    question: str
    value: str


@dataclass(frozen=True)
class OtherInput:
    """A sticker, image, audio, location or file where we expect text."""

    kind: str


@dataclass(frozen=True)
class HelloInput:
    """The respondent opened the chat (LINE follow, Telegram /start, simulator open)."""


@dataclass(frozen=True)
class FeedbackInput:
    """Not from the respondent: a workshop they attended is over, so ask how it was."""

    workshop: int
    title: Mapping[str, str]


Input = TextInput | TapInput | OtherInput | HelloInput | FeedbackInput


@dataclass(frozen=True)
class Context:
    """Everything impure the engine needs, looked up by the shell beforehand."""

    today: date
    consent_version: str
    #: Flows by handle: the latest version of every survey plus the one in progress.
    flows: Mapping[str, Flow]
    #: The handle of the latest version of each survey, by its keyword.
    keywords: Mapping[str, str]
    #: Handle of the profile flow, asked once after consent.
    profile_flow: str | None = None
    #: The respondent's profile answers (group, municipality), read in forms with profile('name').
    profile: Mapping[str, Answer] = field(default_factory=dict)
    #: Scores of the respondent's latest round, by form_id: {"characteristics", "subfeatures"}.
    previous_scores: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    #: The courses on offer, for recommending one after a results card.
    courses: tuple[Course, ...] = ()
    #: Upcoming workshops, those for the respondent's group first.
    workshops: tuple[WorkshopOffer, ...] = ()
    #: The respondent's registrations that are still ahead.
    my_workshops: tuple[MyWorkshop, ...] = ()
    #: What is stored about them, only on a turn that shows it ("see my data").
    my_data: MyData | None = None


@dataclass(frozen=True)
class SurveyTaken:
    """One run through a survey, as "see my data" lists it (dates are local)."""

    title: Mapping[str, str]
    started: date
    completed: date | None


@dataclass(frozen=True)
class MyData:
    """What is stored about the respondent beyond the profile, for "see my data" (PDPA)."""

    surveys: tuple[SurveyTaken, ...] = ()
    #: When they last consented (local date) and to which wording; None if they never did.
    consented: date | None = None
    consent_wording: str = ""


@dataclass(frozen=True)
class WorkshopOffer:
    """An upcoming workshop as the chat shows it (times are local, in the shell's time zone)."""

    id: int
    course_code: str
    title: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    venue: str
    map_url: str
    seats_left: int
    deadline: datetime


@dataclass(frozen=True)
class MyWorkshop:
    """One of the respondent's registrations: registered, or waitlisted at a position."""

    id: int
    title: Mapping[str, str]
    starts_at: datetime
    status: str
    position: int | None


@dataclass(frozen=True)
class Course:
    """A course as the engine needs it to recommend one (the shell looks them up)."""

    code: str
    title: Mapping[str, str]  # by language
    kind: str  # "upskill" or "reskill"
    groups: tuple[str, ...]  # the pilot groups it is for
    focus: tuple[str, ...]  # the characteristics it builds


# Outputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    """Text from the message catalog: a key and its parameters, translated by the shell."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DayMonth:
    """A Msg parameter: a date said short, as on a button ("5 ธ.ค.")."""

    day: date


@dataclass(frozen=True)
class Alternatives:
    """A Msg parameter: names the shell joins as its language says "A, B or C"."""

    names: tuple[str, ...]


#: A piece of text: catalog text, or text from a form already in the respondent's language.
Part = Msg | str


@dataclass(frozen=True)
class Button:
    """A quick-reply button; pressing it comes back as TapInput(question, value)."""

    label: Part
    question: str
    value: str


@dataclass(frozen=True)
class Bar:
    """One characteristic on a results card: its mean score, change since last round, meaning."""

    label: str
    score: float
    change: float | None
    meaning: str


@dataclass(frozen=True)
class ResultsCard:
    """The scores of a finished assessment, for the shell to draw as bars."""

    bars: tuple[Bar, ...]
    strongest: str
    weakest: str


@dataclass(frozen=True)
class Message:
    """One chat message: lines of text, optional buttons and an optional progress (3, 20)."""

    parts: tuple[Part, ...]
    buttons: tuple[Button, ...] = ()
    progress: tuple[int, int] | None = None
    card: ResultsCard | None = None


# Events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentGiven:
    """The respondent agreed to the PDPA notice of this wording version."""

    version: str


@dataclass(frozen=True)
class ConsentDeclined:
    """The respondent declined the PDPA notice of this wording version."""

    version: str


@dataclass(frozen=True)
class ConsentWithdrawn:
    """The respondent took back the consent they gave (to the notice of this wording version)."""

    version: str


@dataclass(frozen=True)
class SurveyStarted:
    """A new run through a flow began (a new submission)."""

    flow: str


@dataclass(frozen=True)
class AnswerRecorded:
    """An answer was accepted: `raw` is what was typed or tapped, `value` what is stored."""

    flow: str
    question: str
    raw: str
    value: Answer


@dataclass(frozen=True)
class AnswerRejected:
    """An answer was refused; `reason` says which check failed."""

    flow: str
    question: str
    raw: str
    reason: str


@dataclass(frozen=True)
class SurveyCompleted:
    """A flow reached its end with these answers."""

    flow: str
    answers: Mapping[str, Answer]


@dataclass(frozen=True)
class ScoresComputed:
    """A scored flow finished with these mean scores ({"characteristics": …, "subfeatures": …})."""

    flow: str
    scores: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class ActionRequested:
    """The respondent asked for something the shell carries out, e.g. interest in a course."""

    action: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class LanguageChanged:
    """The respondent switched language."""

    language: str


Event = (
    ConsentGiven
    | ConsentDeclined
    | ConsentWithdrawn
    | SurveyStarted
    | AnswerRecorded
    | AnswerRejected
    | SurveyCompleted
    | ScoresComputed
    | ActionRequested
    | LanguageChanged
)


@dataclass(frozen=True)
class Step:
    """What one input did: the new state, what to say, and what happened."""

    state: State
    messages: tuple[Message, ...]
    events: tuple[Event, ...]
