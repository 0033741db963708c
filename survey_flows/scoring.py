"""Scores declared in a form: mean 1–5 per sub-feature and characteristic, reverse items recoded.

A researcher declares scoring in the spreadsheet, not in Python: survey columns `characteristic`,
`subfeature` and `reverse`, a numeric `score` column on the answer choices, and choice lists
`characteristic` and `subfeature` that name them (see survey_flows/scoring_form.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import fmean

from survey_flows.form import Translated

#: Score bands for the one-line meaning of a characteristic's score.
BANDS = (("low", 2.5), ("mid", 3.5), ("high", float("inf")))


@dataclass(frozen=True)
class Dimension:
    """A characteristic or a sub-feature: its id, its label and, for characteristics, meanings."""

    id: str
    label: Translated
    characteristic: str = ""  # for a sub-feature, the characteristic it belongs to
    meanings: Mapping[str, Translated] = field(default_factory=dict)  # band -> text


@dataclass(frozen=True)
class ScoredItem:
    """A question that counts towards a sub-feature, with its scale of choice -> score."""

    name: str
    subfeature: str
    characteristic: str
    reverse: bool
    scale: Mapping[str, float]

    def points(self, choice: str) -> float | None:
        """The item's score for a picked choice, recoded when the item is reverse-keyed."""
        if choice not in self.scale:
            return None
        value = self.scale[choice]
        if self.reverse:  # on a 1–5 scale, 5 becomes 1: lowest + highest - value
            return min(self.scale.values()) + max(self.scale.values()) - value
        return value


@dataclass(frozen=True)
class Scoring:
    """How a form is scored."""

    characteristics: tuple[Dimension, ...]
    subfeatures: tuple[Dimension, ...]
    items: tuple[ScoredItem, ...]

    def characteristic(self, id: str) -> Dimension:
        """The characteristic with this id."""
        return next(c for c in self.characteristics if c.id == id)


@dataclass(frozen=True)
class Scores:
    """Mean scores of one submission; dimensions with no answered item are absent."""

    characteristics: Mapping[str, float]
    subfeatures: Mapping[str, float]

    def to_json(self) -> dict[str, dict[str, float]]:
        """Return the scores as JSON-ready data."""
        return {
            "characteristics": dict(self.characteristics),
            "subfeatures": dict(self.subfeatures),
        }


def score(scoring: Scoring, answers: Mapping[str, object]) -> Scores:
    """Mean the answered items per sub-feature and per characteristic (skipped items left out).

    A characteristic's score is the mean of all its answered items, so a sub-feature with a
    skipped item weighs a little less, as it should.
    """
    by_subfeature: dict[str, list[float]] = defaultdict(list)
    by_characteristic: dict[str, list[float]] = defaultdict(list)
    for item in scoring.items:
        answer = answers.get(item.name)
        points = item.points(answer) if isinstance(answer, str) else None
        if points is not None:
            by_subfeature[item.subfeature].append(points)
            by_characteristic[item.characteristic].append(points)
    return Scores(
        characteristics={
            c.id: fmean(by_characteristic[c.id])
            for c in scoring.characteristics
            if by_characteristic[c.id]
        },
        subfeatures={
            s.id: fmean(by_subfeature[s.id]) for s in scoring.subfeatures if by_subfeature[s.id]
        },
    )


def band(value: float) -> str:
    """The band a mean score falls in: low (< 2.5), mid (< 3.5) or high."""
    return next(name for name, upper in BANDS if value < upper)
