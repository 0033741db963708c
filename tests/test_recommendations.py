"""The courses after a results card build what the card says is weakest; strengths agree with bars."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from survey_flows.results import levels_of, recommend, strongest_and_weakest
from survey_flows.scoring import Scores
from survey_flows.session import Course
from survey_flows.xlsform import load_flow

ROOT = Path(__file__).resolve().parent.parent
SCORING = load_flow(
    (ROOT / "flows/assessment.md").read_bytes(), "assessment.md", {"group", "municipality"}
).scoring
CHARACTERISTICS = ("c1", "c2", "c3", "c4")


def demo_courses() -> tuple[Course, ...]:
    """The six courses of the pilot, as demo/courses.csv has them."""
    with open(ROOT / "demo/courses.csv", encoding="utf-8") as rows:
        return tuple(
            Course(
                row["code"],
                {"th": row["title_th"], "en": row["title_en"]},
                row["kind"],
                tuple(row["groups"].split()),
                tuple(row["focus"].split()),
            )
            for row in csv.DictReader(rows)
        )


COURSES = demo_courses()


def scores_of(**characteristics: float) -> Scores:
    """Scores where every sub-feature equals its characteristic's mean."""
    subfeatures = {
        s.id: characteristics[s.characteristic]
        for s in SCORING.subfeatures
        if s.characteristic in characteristics
    }
    return Scores(characteristics, subfeatures)


def test_a_driver_weakest_in_creativity_is_offered_only_courses_that_build_it() -> None:
    """Seen: c4 weakest, yet a c3/c2 course was listed under "ความคิดใหม่ในอาชีพ"."""
    offer = recommend(COURSES, "carriage", scores_of(c1=3.2, c2=3.4, c3=3.0, c4=2.1))
    assert [c.code for c in offer.courses] == ["carriage-service"]
    assert offer.builds == offer.weakest == ("c4",)


def test_where_no_course_of_the_group_builds_the_weakest_the_next_lowest_is_named() -> None:
    """Seen on a retake: c1 weakest, and no carriage course builds c1: say so, offer the nearest."""
    offer = recommend(COURSES, "carriage", scores_of(c1=2.0, c2=3.1, c3=3.6, c4=3.3))
    assert offer.is_nearest and offer.weakest == ("c1",) and offer.builds == ("c2",)
    assert [c.code for c in offer.courses] == ["online-marketing"]


def test_ties_on_the_shown_score_are_all_weakest_and_courses_building_more_come_first() -> None:
    """3.04 and 2.96 both show as 3.0: both are weakest; c4 is online-marketing's only miss."""
    offer = recommend(COURSES, "kadkongta", scores_of(c1=3.9, c2=3.04, c3=2.96, c4=3.5))
    assert offer.weakest == offer.builds == ("c2", "c3")
    assert offer.courses[0].code == "online-marketing"  # builds c3 and c2
    assert {c.code for c in offer.courses[1:]} == {"secret-menu", "local-food-value"}


def test_someone_outside_the_pilot_groups_is_offered_from_every_course() -> None:
    """Group "other": every course that builds the weakest characteristic."""
    offer = recommend(COURSES, "other", scores_of(c1=1.5, c2=3.0, c3=3.0, c4=3.0))
    assert [c.code for c in offer.courses] == ["creative-staff", "cultural-events"]


means = st.floats(1, 5).map(lambda v: round(v, 2))
score_maps = st.fixed_dictionaries({c: means for c in CHARACTERISTICS})
groups = st.sampled_from(
    ["carriage", "entrepreneur", "government", "culture", "kadkongta", "other"]
)


@given(score_maps, groups)
def test_every_offered_course_builds_a_characteristic_the_heading_names(scores, group) -> None:
    """And what is named is the lowest level of scores that some course of theirs builds."""
    offer = recommend(COURSES, group, scores_of(**scores))
    assert offer.courses and len(offer.courses) <= 3
    for course in offer.courses:
        assert set(course.focus) & set(offer.builds), course.code
        assert group in course.groups or group == "other"
    levels = levels_of(scores_of(**scores))
    assert offer.weakest == levels[0] and offer.builds in levels
    for lower in levels[: levels.index(offer.builds)]:
        pool = [c for c in COURSES if group in c.groups] or COURSES
        assert not any(set(lower) & set(c.focus) for c in pool)


@given(
    score_maps,
    st.fixed_dictionaries({s.id: means for s in SCORING.subfeatures}),
)
def test_the_strength_is_never_under_the_lowest_bar(characteristics, subfeatures) -> None:
    """The strength belongs to a highest bar, the one to practise to a lowest; never the same."""
    scores = Scores(characteristics, subfeatures)
    strongest, weakest = strongest_and_weakest(SCORING, scores)
    levels = levels_of(scores)
    if strongest is None:
        return
    if len(levels) > 1:
        assert strongest.characteristic in levels[-1]
        assert weakest.characteristic in levels[0]
    assert round(subfeatures[strongest.id], 1) > round(subfeatures[weakest.id], 1)


def test_all_equal_scores_name_no_strength() -> None:
    """Every answer "3": the card names neither a strength nor a weakness it cannot back."""
    assert strongest_and_weakest(SCORING, scores_of(c1=3, c2=3, c3=3, c4=3)) == (None, None)
