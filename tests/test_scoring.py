"""Scoring declared in the form: golden scores against hand-computed answer sets."""

from __future__ import annotations

import pytest

from survey_flows.form import FormError
from survey_flows.scoring import band, score
from survey_flows.xlsform import load_flow

SMALL_INSTRUMENT = """
| survey |
|        | type             | name | label | required | characteristic | subfeature | reverse |
|        | select_one agree | a1   | A1    | yes      | c1             | s1         |         |
|        | select_one agree | a2   | A2    | yes      | c1             | s1         | yes     |
|        | select_one agree | a3   | A3    |          | c1             | s2         |         |
|        | select_one agree | a4   | A4    | yes      | c1             | s2         |         |
|        | select_one often | b1   | B1    | yes      | c2             | s3         | yes     |
|        | select_one often | b2   | B2    | yes      | c2             | s3         |         |
|        | text             | note | Note  |          |                |            |         |
| choices |
|         | list_name      | name | label       | score | characteristic | meaning_low | meaning_high |
|         | agree          | sa   | Strongly    | 5     |                |             |              |
|         | agree          | a    | Agree       | 4     |                |             |              |
|         | agree          | n    | Not sure    | 3     |                |             |              |
|         | agree          | d    | Disagree    | 2     |                |             |              |
|         | agree          | sd   | Strongly no | 1     |                |             |              |
|         | often          | al   | Always      | 5     |                |             |              |
|         | often          | so   | Sometimes   | 3     |                |             |              |
|         | often          | ne   | Never       | 1     |                |             |              |
|         | characteristic | c1   | Attitude    |       |                | Room to grow | Strong      |
|         | characteristic | c2   | Skills      |       |                | Room to grow | Strong      |
|         | subfeature     | s1   | Sub one     |       | c1             |             |              |
|         | subfeature     | s2   | Sub two     |       | c1             |             |              |
|         | subfeature     | s3   | Sub three   |       | c2             |             |              |
"""


def instrument(text: str = SMALL_INSTRUMENT):
    """Load an instrument written as a markdown XLSForm."""
    return load_flow(text.encode(), "instrument.md")


@pytest.mark.parametrize(
    ("answers", "characteristics", "subfeatures"),
    [
        # a2 is reverse: "sd" (1) counts as 5.  s1 = (5 + 5) / 2, s2 = (3 + 4) / 2,
        # c1 = (5 + 5 + 3 + 4) / 4 = 4.25.  b1 reverse on 1..5: "ne" (1) -> 5; s3 = (5 + 3) / 2.
        (
            {"a1": "sa", "a2": "sd", "a3": "n", "a4": "a", "b1": "ne", "b2": "so"},
            {"c1": 4.25, "c2": 4.0},
            {"s1": 5.0, "s2": 3.5, "s3": 4.0},
        ),
        # a3 skipped (optional): s2 is a4 alone; c1 = (2 + 4 + 1) / 3.  b1 "al" (5) -> 1.
        (
            {"a1": "d", "a2": "d", "a4": "sd", "b1": "al", "b2": "al", "note": "hi"},
            {"c1": 7 / 3, "c2": 3.0},
            {"s1": 3.0, "s2": 1.0, "s3": 3.0},
        ),
        # nothing scored answered: no scores at all, rather than zeros
        ({"note": "only text"}, {}, {}),
    ],
)
def test_scores_match_hand_computed_means(answers, characteristics, subfeatures) -> None:
    """Means per sub-feature and characteristic, reverse items recoded, skipped items left out."""
    scores = score(instrument().scoring, answers)
    assert scores.characteristics == pytest.approx(characteristics)
    assert scores.subfeatures == pytest.approx(subfeatures)


def test_bands_give_each_score_its_meaning() -> None:
    """Below 2.5 is low, below 3.5 mid, the rest high."""
    assert [band(v) for v in (1.0, 2.49, 2.5, 3.49, 3.5, 5.0)] == [
        "low",
        "low",
        "mid",
        "mid",
        "high",
        "high",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "| agree          | a    | Agree       | 4 ",
            "| agree          | a    | Agree       | four ",
        ),
        (
            "| c1             | s1         |         |\n",
            "| c9             | s1         |         |\n",
        ),
        (
            "| select_one often | b2   | B2    | yes      | c2             | s3 ",
            "| select_one often | b2   | B2    | yes      | c2             | s9 ",
        ),
        (
            "| subfeature     | s3   | Sub three   |       | c2 ",
            "| subfeature     | s3   | Sub three   |       | c7 ",
        ),
        (
            "| select_one often | b2   | B2    | yes      | c2  ",
            "| integer          | b2   | B2    | yes      | c2  ",
        ),
    ],
    ids=[
        "non-numeric scale",
        "unknown characteristic",
        "unknown sub-feature",
        "sub-feature of unknown characteristic",
        "scored item not a choice",
    ],
)
def test_a_wrong_scoring_declaration_is_refused_at_load(change: str, expected: str) -> None:
    """Mistakes in the spreadsheet's scoring are refused when the form is imported."""
    broken = SMALL_INSTRUMENT.replace(change, expected, 1)
    assert broken != SMALL_INSTRUMENT
    with pytest.raises(FormError):
        instrument(broken)
