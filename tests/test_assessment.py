"""The Active Citizenship assessment: the instrument, each group's items, scores, rounds, courses."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Answer, Course, CourseInterest, Submission, SurveyVersion
from survey_flows.form import Kind
from survey_flows.xlsform import load_flow
from tests.chat import Respondent, listed_numbers, texts

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {
    "carriage": "คนขับรถม้า",
    "entrepreneur": "ผู้ประกอบการสร้างสรรค์",
    "government": "บุคลากรภาครัฐ",
    "culture": "ชุมชนวัฒนธรรม",
    "kadkongta": "กาดกองต้า",
}


def the_instrument():
    """The assessment as shipped in flows/."""
    source = (ROOT / "flows/assessment.md").read_bytes()
    return load_flow(source, "assessment.md", profile_fields={"group", "municipality"})


def test_the_instrument_covers_every_sub_feature_in_thai_and_english() -> None:
    """≥3 items per sub-feature of 1–3, ≥4 per group in 4, a reverse item in each, both languages."""
    flow = the_instrument()
    scoring = flow.scoring
    assert [c.id for c in scoring.characteristics] == ["c1", "c2", "c3", "c4"]
    per_subfeature = Counter(item.subfeature for item in scoring.items)
    for subfeature in scoring.subfeatures:
        needed = 4 if subfeature.characteristic == "c4" else 3
        assert per_subfeature[subfeature.id] >= needed, subfeature.id
    assert {s.id for s in scoring.subfeatures if s.characteristic != "c4"} == {
        f"c{c}_{s}" for c in (1, 2, 3) for s in (1, 2, 3, 4)
    }
    for characteristic in scoring.characteristics:
        assert any(i.reverse for i in scoring.items if i.characteristic == characteristic.id)
        assert characteristic.label.keys() >= {"th", "en"}
        for band in ("low", "mid", "high"):
            assert characteristic.meanings[band].keys() >= {"th", "en"}, (characteristic.id, band)
    for item in flow.items:
        if item.kind is not Kind.CALCULATE:
            assert item.label.keys() >= {"th", "en"}, item.name
        for choice in item.choices:
            assert choice.label.keys() >= {"th", "en"}
            assert len(choice.label["th"]) <= 20  # LINE's quick-reply label limit


def answer_all(
    person: Respondent, typed: str, where: dict[str, str] | None = None
) -> tuple[list[str], list[dict]]:
    """Answer every question by typing `typed` (or `where[prefix]` for questions named so).

    Returns the questions asked and the last replies.
    """
    asked: list[str] = []
    replies = person.replies()
    while not any("card" in message for message in replies):
        question = json.loads(person.last_buttons[0]["data"])[0].split("/", 1)[-1]
        asked.append(question)
        prefix = next((p for p in (where or {}) if question.startswith(p)), None)
        replies = person.say(where[prefix] if prefix else typed)
        assert len(asked) < 80, "the assessment should end"
    return asked, replies


def start_as(client, group: str) -> Respondent:
    """A respondent of `group` who has consented and starts the assessment."""
    person = Respondent(client)
    person.send(hello=True)
    person.tap("ยินยอม")
    person.tap(GROUPS[group])
    person.tap("เทศบาลนครลำปาง")
    person.say("ประเมิน")
    return person


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_answers_its_own_creativity_items(app, client, group: str) -> None:
    """Every group gets the 36 shared items and its own 4 characteristic-4 items, then a card."""
    person = start_as(client, group)
    asked, replies = answer_all(person, "3")
    assert len(asked) == 40
    c4 = [name for name in asked if name.startswith("c4_")]
    assert len(c4) == 4 and all(name.startswith(f"c4_{group}_") for name in c4)
    [card] = [m["card"] for m in replies if "card" in m]
    assert [bar["score"] for bar in card["bars"]] == [3.0, 3.0, 3.0, 3.0]
    assert "ข้อ 40/40" not in texts(replies)


def test_a_second_round_shows_the_change_and_keeps_the_first(app, client) -> None:
    """Taking it again after a workshop: the card shows e.g. "ทัศนคติ 3.5 (+0.5)"; rounds are kept."""
    person = start_as(client, "carriage")
    answer_all(person, "3")
    person.say("ประเมิน")
    _, replies = answer_all(person, "2")
    [card] = [m["card"] for m in replies if "card" in m]
    # c1: nine items at 4 and three reverse items at 6 - 4 = 2 -> 42 / 12 = 3.5
    assert card["bars"][0]["score"] == 3.5
    assert card["bars"][0]["change"] == 0.5
    assert "ทัศนคติ 3.5 (+0.5)" in texts(replies)
    with app.extensions["runtime"].db() as session:
        rounds = session.execute(
            select(Submission.round, Submission.scores)
            .join(SurveyVersion)
            .where(SurveyVersion.form_id == "active_citizen")
            .order_by(Submission.id)
        ).all()
        assert [r for r, _ in rounds] == [1, 2]
        assert rounds[0][1]["characteristics"]["c1"] == 3.0
        kept = session.scalar(select(Answer).where(Answer.question == "c1_1_a").order_by(Answer.id))
        assert kept.value == "sometimes"  # the first round's answer (ทำบางครั้ง) is still there


def test_the_card_leads_to_courses_for_the_group_and_records_interest(app, client) -> None:
    """After the card: the group's courses, weakest characteristic first; a tap is remembered."""
    person = start_as(client, "kadkongta")
    _, replies = answer_all(person, "3")
    offer = replies[-1]
    assert "หลักสูตร" in offer["text"]
    labels = [b["label"] for b in offer["buttons"]]
    assert "เมนูลับกาดกองต้าสู่วิถีเศรษฐกิจสร้างสรรค์" in labels
    assert "การพัฒนารูปแบบบริการของรถม้าลำปางสร้างสรรค์" not in labels  # not for vendors
    dates = person.tap("เมนูลับกาดกองต้าสู่วิถีเศรษฐกิจสร้างสรรค์")
    assert "รอบอบรมที่กำลังจะมาถึง" in texts(dates)  # straight on to its workshops
    with app.extensions["runtime"].db() as session:
        interest = session.scalars(select(CourseInterest)).one()
        assert session.get(Course, interest.course_id).code == "secret-menu"


def test_a_driver_weakest_in_creativity_is_offered_the_course_that_builds_it(app, client) -> None:
    """Seen: c4 lowest, yet a course for c3/c2 was listed under "ความคิดใหม่ในอาชีพ"."""
    person = start_as(client, "carriage")
    _, replies = answer_all(person, "3", where={"c4_": "5"})
    [card] = [m["card"] for m in replies if "card" in m]
    assert [bar["score"] for bar in card["bars"]] == [3.0, 3.0, 3.0, 2.0]
    assert "ความคิดใหม่ในอาชีพ" not in card["strongest"]
    offer = replies[-1]
    assert offer["text"].startswith('หลักสูตรที่ช่วยเรื่อง "ความคิดใหม่ในอาชีพ" ซึ่งเป็นด้านที่คะแนน')
    assert [b["label"] for b in offer["buttons"]] == ["การพัฒนารูปแบบบริการของรถม้าลำปางสร้างสรรค์"]


def test_a_retake_weakest_where_no_course_helps_says_so_and_offers_the_nearest(app, client) -> None:
    """Seen: c1 lowest on a retake; the heading named ทัศนคติ over courses that do not build it."""
    person = start_as(client, "carriage")
    answer_all(person, "3")
    person.say("ประเมิน")
    _, replies = answer_all(person, "2", where={"c1_": "5", "c2_": "3", "c3_": "4"})
    [card] = [m["card"] for m in replies if "card" in m]
    assert card["bars"][0]["score"] == 2.0  # ทัศนคติ
    offer = replies[-1]["text"]
    assert offer.startswith('ตอนนี้ยังไม่มีหลักสูตรสำหรับคุณที่ช่วยเรื่อง "ทัศนคติ" โดยตรงค่ะ')
    assert 'ใกล้เคียงที่สุดช่วยเรื่อง "ทักษะ" ซึ่งคะแนนน้อยรองลงมา' in offer  # c3, the next lowest
    assert [b["label"] for b in replies[-1]["buttons"]] == [
        "การพัฒนาผู้ประกอบการสร้างสรรค์ด้านการตลาดบนสื่อออนไลน์และโซเชียลมีเดีย",  # c3 first
        "การพัฒนารูปแบบบริการของรถม้าลำปางสร้างสรรค์",  # c4, then c3
    ]


def test_my_results_shows_the_latest_card_at_any_time(app, client) -> None:
    """ "ผลของฉัน" (the rich menu's button) shows the latest card, or how to get one."""
    person = start_as(client, "culture")
    early = person.say("ผลของฉัน")
    assert "ผลจะออกทันทีที่ทำแบบประเมินนี้จบ" in texts(early)  # they are taking it now
    assert "ข้อ 1/40" in early[-1]["text"]  # and the question they were on, again
    answer_all(person, "3")
    later = person.say("ผลของฉัน")
    [card] = [m["card"] for m in later if "card" in m]
    assert [bar["score"] for bar in card["bars"]] == [3.0, 3.0, 3.0, 3.0]


def test_the_training_button_lists_workshops_for_the_group_first(app, client) -> None:
    """ "อบรม" (the rich menu's button) lists upcoming workshops, the group's courses first."""
    person = Respondent(client)
    person.onboard()
    listed = person.say("อบรม")
    carriage = listed_numbers(listed, "รถม้า") + listed_numbers(listed, "ออนไลน์")
    assert sorted(carriage) == [1, 2, 3]  # the group's three workshops first
    assert texts(listed).splitlines()[1].startswith("1. การพัฒนารูปแบบบริการของรถม้า")
    assert len(listed[-1]["buttons"]) == len(listed_numbers(listed, ""))  # a button per workshop
