"""After a scored flow: the results card, and the courses that fit the respondent."""

from __future__ import annotations

from collections.abc import Mapping

from survey_flows.form import Flow, pick
from survey_flows.scoring import Scores, band
from survey_flows.session import Bar, Button, Course, Message, Msg, ResultsCard

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
    # scores kept from an older revision may name sub-features this one no longer has
    ranked = [s for s in flow.scoring.subfeatures if s.id in scores.subfeatures]
    strongest = max(ranked, key=lambda s: scores.subfeatures[s.id], default=None)
    weakest = min(ranked, key=lambda s: scores.subfeatures[s.id], default=None)
    card = ResultsCard(
        bars=tuple(bars),
        strongest=pick(strongest.label, language) if strongest else "",
        weakest=pick(weakest.label, language) if weakest else "",
    )
    return Message((Msg("results.title"),), card=card)


def weakest_characteristic(scores: Scores) -> str:
    """The characteristic with the lowest mean (the first of equals, in form order)."""
    return min(scores.characteristics, key=lambda id: scores.characteristics[id])


def recommend(courses: tuple[Course, ...], group: str, weakest: str) -> list[Course]:
    """Courses for the respondent's group, those that build their weakest characteristic first.

    Someone outside the pilot groups is offered the courses that build that characteristic.
    """
    for_group = [course for course in courses if group in course.groups]
    if not for_group:
        return [course for course in courses if weakest in course.focus][:MAX_OFFERS]
    return sorted(for_group, key=lambda course: weakest not in course.focus)[:MAX_OFFERS]


def course_offer(offers: list[Course], weakest_label: str, language: str) -> Message:
    """The message that offers courses after a results card, one button each."""
    if not offers:
        return Message((Msg("courses.none"),))
    return _courses_message(
        Msg("courses.offer", {"characteristic": weakest_label}), offers, language
    )


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
