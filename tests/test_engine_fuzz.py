"""Hypothesis throws random text and taps at every question type: never a crash, never a dead end."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import postback
from survey_flows.engine import ERASE, RESTART, WITHDRAW, resume
from survey_flows.session import (
    Context,
    OtherInput,
    Stage,
    State,
    TapInput,
    TextInput,
)
from survey_flows.workshop_chat import CANCEL_NOW
from tests.test_transcripts import built_in_context

CONTEXT: Context = built_in_context({"group": "carriage", "municipality": "nakhon"})
SURVEY = CONTEXT.flows["2"]
QUESTIONS = [item for item in SURVEY.items if item.asks]
THAI_AND_MORE = st.one_of(
    st.text(
        alphabet=st.one_of(
            st.characters(min_codepoint=0x0E00, max_codepoint=0x0E7F),  # Thai
            st.characters(),
            st.sampled_from(["๑", "๒", "5", ",", "/", " ", "\n", "🐴", "\u200b"]),
        ),
        max_size=300,
    ),
    st.sampled_from(["ข้าม", "ย้อนกลับ", "หยุด", "ภาษา", "เริ่มใหม่", "ช่วยเหลือ", "1, 2", "๓"]),
)
RANDOM_INPUT = st.one_of(
    THAI_AND_MORE.map(TextInput),
    st.builds(
        lambda piece, n: TextInput(piece * n), st.text(min_size=1, max_size=5), st.just(10_000)
    ),
    st.builds(TapInput, st.sampled_from([*(q.name for q in QUESTIONS), "_consent", ""]), st.text()),
    st.builds(OtherInput, st.sampled_from(["sticker", "image", "audio", "location", "file"])),
)


def at(question: str) -> State:
    """A respondent sitting at `question`, with the questions before it answered."""
    answers = {"group": "carriage", "years": 5, "started": "2020-01-01", "busy_days": "same"}
    return State(stage=Stage.SURVEY, flow="2", question=question, answers=answers)


#: Pseudo-questions of the buttons that ask to confirm a step that cannot be undone.
CONFIRMATIONS = {RESTART, ERASE, WITHDRAW, CANCEL_NOW}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=st.sampled_from([q.name for q in QUESTIONS]), given_input=RANDOM_INPUT)
def test_any_input_at_any_question_gets_an_answer_and_a_way_on(question, given_input) -> None:
    """Whatever arrives, the bot replies and ends by asking the question now waiting."""
    step = resume(at(question), given_input, CONTEXT)
    assert step.messages, "the respondent must always hear back"
    last = step.messages[-1]
    confirming = {b.question for b in last.buttons} & CONFIRMATIONS
    if not step.state.paused and step.state.question and not confirming:
        # the last thing said is the question the respondent now has to answer (or a question
        # that asks them to confirm a step that cannot be undone, whose buttons lead back)
        current = SURVEY.item(step.state.question)
        assert current.label[step.state.language] in last.parts
    for message in step.messages:
        for button in message.buttons:
            assert len(postback.encode(button.question, button.value)) <= 300


@settings(max_examples=200)
@given(st.one_of(st.text(), st.builds(str, st.lists(st.text())), st.just("[[[[[" * 5000)))
def test_random_postback_data_decodes_to_nothing_or_a_tap(data: str) -> None:
    """Postback data from anywhere decodes without crashing, to None or a (question, value)."""
    decoded = postback.decode(data)
    assert decoded is None or isinstance(decoded.question + decoded.value, str)


@given(st.text(), st.text())
def test_postback_round_trips(question: str, value: str) -> None:
    """What a button carries comes back exactly."""
    assert postback.decode(postback.encode(question, value)) == TapInput(question, value)


def test_a_calculation_that_divides_by_zero_stores_nothing() -> None:
    """Infinity is not JSON (PostgreSQL refuses it): such a calculation records no value."""
    from survey_flows.xlsform import load_flow

    form = load_flow(
        b"| survey |\n| | type | name | label | calculation |\n"
        b"| | integer | a | A | |\n| | calculate | c | | ${a} div 0 |\n| | text | t | T | |\n",
        "calc.md",
    )
    context = replace(CONTEXT, flows={**CONTEXT.flows, "9": form})
    step = resume(State(stage=Stage.SURVEY, flow="9", question="a"), TextInput("5"), context)
    assert step.state.answers == {"a": 5}


def test_a_survey_that_no_longer_loads_never_traps_its_respondent() -> None:
    """If the survey in progress is gone, the respondent is told and gets the menu."""
    gone = State(stage=Stage.SURVEY, flow="404", question="years")
    step = resume(gone, TextInput("12"), CONTEXT)
    assert step.state.stage is Stage.IDLE
    assert step.messages[-1].buttons
