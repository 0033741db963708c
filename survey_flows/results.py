"""After a scored flow: the results card, and the courses that fit the respondent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from survey_flows.form import Flow, pick
from survey_flows.scoring import Dimension, Scores, Scoring, band
from survey_flows.session import Alternatives, Bar, Button, Course, Message, Msg, ResultsCard

#: Pseudo-question of the buttons that pick a recommended course.
COURSE = "_course"

#: How many courses to offer at once: enough to choose, few enough to read on a phone.
MAX_OFFERS = 3


def results_card(
    flow: Flow, scores: Scores, previous: Mapping[str, float], language: str
) -> Message:
    """Render the scores as a card: a bar per characteristic, its meaning, strongest and weakest."""
    assert flow.scoring is not None
    bars = []
    for characteristic in flow.scoring.characteristics:
        if characteristic.id not in scores.characteristics:
            continue
        value = scores.characteristics[characteristic.id]
        before = previous.get(characteristic.id)
        bars.append(
            Bar(
                label=pick(characteristic.label, language) or characteristic.id,
                score=round(value, 1),
                change=None if before is None else round(value - before, 1),
                meaning=pick(characteristic.meanings.get(band(value), {}), language),
            )
        )
    strongest, weakest = strongest_and_weakest(flow.scoring, scores)
    card = ResultsCard(
        bars=tuple(bars),
        strongest=pick(strongest.label, language) if strongest else "",
        weakest=pick(weakest.label, language) if weakest else "",
    )
    return Message((Msg("results.title"),), card=card)


def strongest_and_weakest(
    scoring: Scoring, scores: Scores
) -> tuple[Dimension | None, Dimension | None]:
    """The card's strength and the sub-feature to practise, chosen so they agree with its bars.

    The strength is the best sub-feature of the highest bar(s), the one to practise the lowest
    sub-feature of the lowest bar(s): a strength is never named under the lowest score. When
    every sub-feature scores the same there is neither.
    """
    levels = levels_of(scores)
    if not levels:
        return None, None
    # scores kept from an older revision may name sub-features this one no longer has
    ranked = [s for s in scoring.subfeatures if s.id in scores.subfeatures]

    def within(characteristics: tuple[str, ...]) -> list[Dimension]:
        return [s for s in ranked if s.characteristic in characteristics] or ranked

    def shown(subfeature: Dimension) -> float:
        return round(scores.subfeatures[subfeature.id], 1)

    strongest = max(within(levels[-1]), key=shown, default=None)
    weakest = min(within(levels[0]), key=shown, default=None)
    if strongest is None or weakest is None or shown(strongest) <= shown(weakest):
        return None, None
    return strongest, weakest


def levels_of(scores: Scores) -> list[tuple[str, ...]]:
    """The characteristics grouped by the score the card shows (one decimal), lowest first.

    Characteristics that show the same score are equals: which one is "weakest" is never decided
    by a difference the respondent cannot see.
    """
    shown: dict[float, list[str]] = {}
    for id, value in scores.characteristics.items():
        shown.setdefault(round(value, 1), []).append(id)
    return [tuple(shown[value]) for value in sorted(shown)]


@dataclass(frozen=True)
class Recommendation:
    """The courses to offer after a card, and which characteristics of the respondent they build."""

    courses: tuple[Course, ...]
    builds: tuple[str, ...]  # the characteristics the heading names; every course builds one
    weakest: tuple[str, ...]  # the lowest bar(s)

    @property
    def is_nearest(self) -> bool:
        """No course builds the weakest characteristic: these build the next lowest instead."""
        return self.builds != self.weakest


def recommend(courses: tuple[Course, ...], group: str, scores: Scores) -> Recommendation:
    """Courses of the respondent's group that build their weakest characteristic.

    The rule: characteristics tied at the lowest shown score are all "weakest", and a course that
    builds more of them, or names one earlier in its focus, comes first. Where none of the group's
    courses builds any of them, the courses that build the next lowest characteristic are offered,
    and so on up. Someone outside the pilot groups is offered from every course.
    """
    levels = levels_of(scores)
    pool = [course for course in courses if group in course.groups] or list(courses)
    for level in levels:
        fitting = [course for course in pool if set(level) & set(course.focus)]
        if fitting:
            fitting.sort(
                key=lambda course: (-len(set(level) & set(course.focus)), _first(course, level))
            )
            return Recommendation(tuple(fitting[:MAX_OFFERS]), level, levels[0])
    return Recommendation((), (), levels[0] if levels else ())


def _first(course: Course, characteristics: tuple[str, ...]) -> int:
    """Where the first of these characteristics comes in the course's focus (its main one is 0)."""
    return min(course.focus.index(c) for c in characteristics if c in course.focus)


def course_offer(recommendation: Recommendation, scoring: Scoring, language: str) -> Message:
    """The message that offers the recommended courses after a results card, one button each."""
    if not recommendation.courses:
        return Message((Msg("courses.none"),))

    def names(characteristics: tuple[str, ...]) -> Alternatives:
        return Alternatives(
            tuple(f'"{pick(scoring.characteristic(c).label, language)}"' for c in characteristics)
        )

    if len(recommendation.weakest) == len(scoring.characteristics) > 1:
        heading = Msg("courses.offer_all_equal")
    elif recommendation.is_nearest:
        heading = Msg(
            "courses.offer_nearest",
            {
                "weakest": names(recommendation.weakest),
                "characteristic": names(recommendation.builds),
            },
        )
    else:
        heading = Msg("courses.offer", {"characteristic": names(recommendation.builds)})
    return _courses_message(heading, list(recommendation.courses), language)


def course_list(courses: list[Course], language: str) -> Message:
    """Every course open to the respondent, one button each (the rich menu's อบรม)."""
    if not courses:
        return Message((Msg("courses.none"),))
    return _courses_message(Msg("courses.list"), courses, language)


def _courses_message(heading: Msg, offers: list[Course], language: str) -> Message:
    buttons = tuple(Button(pick(dict(c.title), language), COURSE, c.code) for c in offers)
    lines = [
        Msg("courses.item_upskill", {"title": pick(dict(c.title), language)})
        if c.kind == "upskill"
        else Msg("courses.item_reskill", {"title": pick(dict(c.title), language)})
        for c in offers
    ]
    return Message((heading, *lines), buttons)
