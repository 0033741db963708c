"""Whatever a signed webhook carries, it gets a clear answer and loses nothing: odd text is
stored and answered, a body too deep or too large is refused, and nothing gives a 500."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.delivery import deliver
from bot.storable import storable, storable_id
from storage.models import Answer, ProcessedEvent
from tests.line_user import LineUser, sign, text_message

#: Every kind of character a platform may pass on: lone surrogates, NUL and other controls,
#: RTL and zero-width marks, Thai with its combining marks, emoji.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=300) | st.sampled_from(
    ["\ud800", "a\x00b", "\u202eabc", "\u200b", "ก่ำ", "👩🏽‍🌾", "\r\n\t", "\x1b[31m"]
)
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def post_raw(user: LineUser, body: bytes):
    """Post a body exactly as given, correctly signed."""
    return user.client.post("/webhooks/line", data=body, headers={"X-Line-Signature": sign(body)})


def stored_event(user: LineUser, event_id: str) -> bool:
    """Whether the event with this id was handled and kept."""
    with user.app.extensions["runtime"].db() as session:
        return session.scalar(select(ProcessedEvent.id).where(ProcessedEvent.event_id == event_id))


def onboarded(line_app, fake_line) -> LineUser:
    """A user past consent and profile, at the survey menu."""
    user = LineUser(line_app, fake_line)
    user.onboard()
    return user


def test_a_lone_surrogate_is_answered_with_the_same_question(line_app, fake_line) -> None:
    """JSON may carry "\ud800", which UTF-8 cannot hold: it becomes �, and the question comes
    again, as for any text that is not an answer."""
    user = onboarded(line_app, fake_line)
    user.say("สำรวจ")
    event = user.event("message", message=text_message("PLACEHOLDER"))
    body = json.dumps({"destination": "Ubot", "events": [event]}).replace("PLACEHOLDER", "\\ud800")
    before = len(fake_line.messages_to(user.user_id))
    assert post_raw(user, body.encode()).status_code == 200
    assert stored_event(user, event["webhookEventId"])
    deliver(line_app.extensions["runtime"], line_app.extensions["runtime"].clock())
    again = fake_line.messages_to(user.user_id)[before:]
    assert "กี่ปี" in again[-1]["text"]


def test_nul_in_text_is_dropped_and_the_answer_kept(line_app, fake_line) -> None:
    """PostgreSQL's text refuses NUL; the answer is stored without it, on both databases."""
    user = onboarded(line_app, fake_line)
    user.say("สำรวจ")
    user.say("1\x002")
    with line_app.extensions["runtime"].db() as session:
        answer = session.scalars(select(Answer).where(Answer.question == "years")).one()
    assert (answer.raw, answer.value) == ("12", 12)


def test_a_body_nested_fifty_thousand_deep_is_refused_with_400(line_app, fake_line) -> None:
    """Deeper than the parser can follow: a 400, not a 500 from a RecursionError."""
    user = LineUser(line_app, fake_line)
    body = ('{"destination":"U","events":[' + "[" * 50_000 + "]" * 50_000 + "]}").encode()
    assert post_raw(user, body).status_code == 400


def test_a_five_megabyte_body_is_refused_with_413(line_app, fake_line) -> None:
    """LINE's bodies are small; a huge one is refused before it is read, and stores nothing."""
    user = LineUser(line_app, fake_line)
    event = user.event("message", message=text_message("ก" * (5 * 1024 * 1024)))
    body = json.dumps({"destination": "Ubot", "events": [event]}).encode()
    assert post_raw(user, body).status_code == 413
    assert not stored_event(user, event["webhookEventId"])


def test_the_simulator_refuses_a_deep_body_and_stores_odd_text(client) -> None:
    """The simulator's API: a 400 for a body too deep to parse, and a lone surrogate answered."""
    token = client.post("/simulator/api/respondents", json={}).json["token"]
    headers = {"X-Simulator-Token": token}
    deep = "[" * 50_000 + "]" * 50_000
    sent = client.post(
        "/simulator/api/send", data=deep, content_type="application/json", headers=headers
    )
    assert sent.status_code == 400
    odd = '{"text": "\\ud800 \\u0000", "id": "m1"}'
    sent = client.post(
        "/simulator/api/send", data=odd, content_type="application/json", headers=headers
    )
    assert sent.status_code == 200
    assert client.get("/simulator/api/messages?after=0", headers=headers).json["messages"]


@FUZZ
@given(
    body=st.text(max_size=2000)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
        ),
        max_leaves=30,
    ).map(lambda value: json.dumps({"destination": "U", "events": [value]}))
)
def test_any_signed_body_gets_200_or_400_never_a_5xx(line_app, fake_line, body: str) -> None:
    """Arbitrary JSON text (or not JSON at all), correctly signed: a clear answer, never a 500."""
    status = post_raw(
        LineUser(line_app, fake_line), body.encode("utf-8", "surrogatepass")
    ).status_code
    assert status in (200, 400), (status, body[:200])


#: Ids and tokens as LINE sends them are short; any characters may be in them all the same.
SHORT_TEXT = ANY_TEXT.filter(lambda s: 0 < len(s) <= 64)


@FUZZ
@given(text=ANY_TEXT, user_id=SHORT_TEXT, data=ANY_TEXT, event_id=SHORT_TEXT, token=SHORT_TEXT)
def test_any_text_in_any_field_is_stored_and_answered(
    line_app, fake_line, text: str, user_id: str, data: str, event_id: str, token: str
) -> None:
    """Any Unicode in a text, a user id, a postback's data, an event id, a reply or quote
    token: 200, and the event is kept."""
    user = LineUser(line_app, fake_line, user_id=user_id)
    message = user.event("message", message={**text_message(text), "quoteToken": token})
    message["webhookEventId"] = event_id
    tap = user.event("postback", postback={"data": data})
    tap["replyToken"] = token
    body = json.dumps({"destination": "Ubot", "events": [message, tap]})
    assert post_raw(user, body.encode("utf-8", "surrogatepass")).status_code == 200
    assert stored_event(user, storable_id(message["webhookEventId"]))
    assert stored_event(user, storable_id(tap["webhookEventId"]))


def test_storable_keeps_thai_emoji_and_marks_and_drops_only_what_cannot_be_stored() -> None:
    """Thai tone marks, emoji, RTL marks and newlines stay; NUL goes; a lone surrogate is �."""
    assert storable("ก่ำ 👩🏽‍🌾 \u202e\n") == "ก่ำ 👩🏽‍🌾 \u202e\n"
    assert storable("a\x00b\x1b") == "ab"
    assert storable("x\ud800y") == "x\ufffdy"
    assert uuid.UUID(storable(str(uuid.UUID(int=1))))


def test_an_event_that_cannot_be_stored_does_not_hold_back_the_rest_of_its_body(
    line_app, fake_line
) -> None:
    """A user id too long for the database (a bug's kind of failure, not an outage): the other
    events of the body are still handled, and the answer is not a 503 that blames the database."""
    user = LineUser(line_app, fake_line)
    odd = LineUser(line_app, fake_line, user_id="U" + "x" * 300).event("follow")
    good = user.event("follow")
    body = json.dumps({"destination": "Ubot", "events": [odd, good]})
    assert post_raw(user, body.encode()).status_code in (200, 500)
    assert stored_event(user, good["webhookEventId"])


def test_event_ids_that_differ_only_in_unstorable_characters_stay_apart() -> None:
    """Two ids are never merged by cleaning, and a storable id is kept as it is."""
    assert storable_id("01HXYZ") == "01HXYZ"
    assert storable_id("\x1f") != storable_id("") != storable_id("\x1e")
    assert storable_id("a\ud800") != storable_id("a\ufffd")
