"""Golden transcripts: the built-in flows plus a respondent's inputs give exactly these replies.

Each file in tests/transcripts/ is a conversation. Lines starting with ">" are what the respondent
sends: typed text, "[label]" for a tap on a button of the last message, "(sticker)" for a
non-text message, "(hello)" for opening the chat. Everything else is what the engine answered,
rendered through the real Thai/English catalogs, with "=" lines for what it recorded. To accept a
deliberate change, run with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from bot.i18n import render_part
from bot.rendering import render
from survey_flows.engine import resume
from survey_flows.session import (
    AnswerRecorded,
    AnswerRejected,
    Context,
    HelloInput,
    Input,
    Message,
    OtherInput,
    State,
    Step,
    TapInput,
    TextInput,
)
from survey_flows.xlsform import load_flow
from tests.test_recommendations import demo_courses

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.txt"))
TODAY = date(2026, 11, 23)


def built_in_context(profile: dict) -> Context:
    """The built-in flows (profile, livelihood, assessment) and the pilot's six courses, as the
    shell would pass them."""
    profile_flow = load_flow((ROOT / "flows/profile.md").read_bytes(), "profile.md")
    fields = frozenset(item.name for item in profile_flow.items)
    flows = {"1": profile_flow}
    for handle, name in (("2", "livelihood.md"), ("3", "assessment.md")):
        flows[handle] = load_flow((ROOT / "flows" / name).read_bytes(), name, profile_fields=fields)
    return Context(
        today=TODAY,
        consent_version="test-1",
        flows=flows,
        keywords={word: handle for handle, f in flows.items() for word in f.keywords.values()},
        profile_flow="1",
        profile=profile,
        courses=demo_courses(),
    )


def parse_input(line: str, last: Message | None, language: str) -> Input:
    """Turn a '>' line into the input it stands for."""
    sent = line[2:]
    if sent == "(hello)":
        return HelloInput()
    if sent.startswith("(") and sent.endswith(")"):
        return OtherInput(sent[1:-1])
    if sent.startswith("[") and sent.endswith("]"):
        label = sent[1:-1]
        buttons = last.buttons if last else ()
        button = next(b for b in buttons if render_part(b.label, language) == label)
        return TapInput(button.question, button.value)
    if sent.startswith("{") and sent.endswith("}"):  # a tap on a button of another question
        question, value = sent[1:-1].split("=", 1)
        return TapInput(question, value)
    return TextInput(sent.replace("\\n", "\n"))


def describe(step: Step) -> list[str]:
    """Render a step as transcript lines."""
    lines: list[str] = []
    for message in step.messages:
        payload = render(message, step.state.language)
        lines.extend(f"< {line}" for line in payload["text"].split("\n"))
        if payload["buttons"]:
            lines.append("  " + " ".join(f"[{b['label']}]" for b in payload["buttons"]))
    for event in step.events:
        if isinstance(event, AnswerRecorded):
            lines.append(f"= {event.question}: {event.raw!r} -> {event.value!r}")
        elif isinstance(event, AnswerRejected):
            lines.append(f"= {event.question} rejected ({event.reason})")
        else:
            lines.append(f"= {type(event).__name__}")
    return lines


def play(script: list[str]) -> list[str]:
    """Replay the '>' lines of a transcript and return the whole transcript as it now comes out."""
    state, profile, last = State(), {}, None
    out: list[str] = []
    for line in script:
        if not line.startswith("> "):
            continue
        out.append(line)
        step = resume(state, parse_input(line, last, state.language), built_in_context(profile))
        out.extend(describe(step))
        for event in step.events:  # the shell's part: a finished profile becomes the profile
            if type(event).__name__ == "SurveyCompleted" and event.flow == "1":
                profile = dict(event.answers)
        state = step.state
        last = next((m for m in reversed(step.messages) if m.buttons), last)
    return out


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path) -> None:
    """The engine says exactly what the golden transcript says, input by input."""
    expected = path.read_text(encoding="utf-8").splitlines()
    actual = play(expected)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text("\n".join(actual) + "\n", encoding="utf-8")
    assert actual == expected
