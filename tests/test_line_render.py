"""LINE rendering: what a respondent sees on LINE, and that LINE would accept every request."""

from __future__ import annotations

import json
import time
from typing import Any

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linebot.v3.messaging import FlexMessage, PushMessageRequest, TextMessage

from bot import postback
from bot.line.render import (
    MAX_NUMBER,
    MORE_LABEL,
    bar_width,
    batches,
    line_messages,
    more_data,
    read_more,
    score_text,
)
from bot.rendering import render
from bot.text_cut import cut_graphemes, split_text
from survey_flows.session import Button, Message

USER = "U" + "0" * 32
BREAKS = "\r\n"


def units(text: str) -> int:
    """UTF-16 code units, counted the way LINE documents it."""
    return len(text.encode("utf-16-le")) // 2


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters, as the renderer cuts them."""
    return regex.findall(r"\X", text)


def buttons(count: int) -> list[dict[str, str]]:
    """`count` answer buttons made the way bot.rendering makes them."""
    return [{"label": f"ตัวเลือก {n}", "data": postback.encode("q1", f"v{n}")} for n in range(count)]


def quick_replies(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The quick reply actions on a message ([] if none)."""
    return [item["action"] for item in message.get("quickReply", {}).get("items", [])]


def assert_valid_for_line(messages: list[dict[str, Any]]) -> None:
    """Every message round-trips through the SDK, fits LINE's limits, and batches into pushes."""
    for message in messages:
        json.dumps(message)
        model = {"text": TextMessage, "flex": FlexMessage}[message["type"]]
        assert model.from_dict(message).to_dict() == message
        if message["type"] == "text":
            assert message["text"].strip() and units(message["text"]) <= 5000
        else:
            assert message["altText"].strip() and units(message["altText"]) <= 400
        actions = quick_replies(message)
        assert len(actions) <= 13
        for action in actions:
            assert 0 < units(action["label"]) <= 20 and units(action["displayText"]) <= 300
            assert units(action["data"]) <= 300
    assert "quickReply" not in json.dumps(messages[:-1])
    for batch in batches(messages):
        PushMessageRequest.from_dict({"to": USER, "messages": batch})


def flex_texts(component: dict[str, Any]) -> list[dict[str, Any]]:
    """Every text component inside a Flex component, depth first."""
    if component.get("type") == "text":
        return [component]
    children = [component.get(part) for part in ("header", "body", "footer")]
    children += component.get("contents") or []
    return [text for child in children if isinstance(child, dict) for text in flex_texts(child)]


# --- what a respondent sees ---------------------------------------------------------------


def test_three_buttons_are_quick_replies_on_the_last_message():
    payload = {"text": "ข้อ 3/40\n" + "ก" * 6000, "buttons": buttons(3)}
    messages = line_messages(payload, row_id=1)
    assert len(messages) == 2 and "quickReply" not in messages[0]
    assert [action["label"] for action in quick_replies(messages[-1])] == [
        "ตัวเลือก 0",
        "ตัวเลือก 1",
        "ตัวเลือก 2",
    ]
    assert quick_replies(messages[-1])[0] == {
        "type": "postback",
        "label": "ตัวเลือก 0",
        "data": "b:1.0",  # button 0 of outbox row 1: its own data stays on the server
        "displayText": "ตัวเลือก 0",
    }
    assert_valid_for_line(messages)


AGREE = ("เห็นด้วยอย่างยิ่ง", "เห็นด้วย", "ไม่แน่ใจ", "ไม่เห็นด้วย", "ไม่เห็นด้วยอย่างยิ่ง")


def test_a_five_point_scale_is_stacked_in_the_question_so_all_five_show() -> None:
    """Seen: on a 390 px phone the scale's row showed 3½ choices; the negative end was hidden."""
    scale = [
        {"label": label, "data": postback.encode("q1", str(n))} for n, label in enumerate(AGREE)
    ]
    payload = {"text": "ข้อ 2/40\nฉันรักษาความสะอาดที่ทำงาน", "buttons": scale}
    messages = line_messages(payload, row_id=1)
    assert [m["type"] for m in messages] == ["flex"] and "quickReply" not in messages[0]
    body = messages[0]["contents"]["body"]["contents"]
    assert body[0]["text"] == "ข้อ 2/40\nฉันรักษาความสะอาดที่ทำงาน" and body[0]["wrap"] is True
    actions = [part["action"] for part in body if part["type"] == "button"]
    assert [a["label"] for a in actions] == list(AGREE)  # in order, one per line
    assert [a["displayText"] for a in actions] == list(AGREE)  # shown as what they tapped
    assert "ไม่เห็นด้วยอย่างยิ่ง" in messages[0]["altText"]  # notifications and old phones see them too
    assert_valid_for_line(messages)


def test_short_choices_that_fit_one_row_stay_quick_replies() -> None:
    """ยินยอม / ไม่ยินยอม fit a phone's width: quick replies, which go away once tapped."""
    consent = [
        {"label": label, "data": postback.encode("_consent", label)}
        for label in ("ยินยอม", "ไม่ยินยอม")
    ]
    [message] = line_messages({"text": "คุณยินยอมไหมคะ", "buttons": consent}, row_id=1)
    assert message["type"] == "text"
    assert [a["label"] for a in quick_replies(message)] == ["ยินยอม", "ไม่ยินยอม"]


def test_twenty_buttons_page_as_twelve_and_next_then_the_remaining_eight():
    payload = {"text": "ข้อ 1/40\nเลือกอำเภอของคุณค่ะ", "buttons": buttons(20)}
    first = quick_replies(line_messages(payload, row_id=7)[-1])
    assert len(first) == 13
    assert [a["label"] for a in first[:12]] == [f"ตัวเลือก {n}" for n in range(12)]
    assert first[12]["label"] == MORE_LABEL and first[12]["displayText"] == MORE_LABEL
    assert read_more(first[12]["data"]) == (7, 12)
    second = quick_replies(line_messages(payload, row_id=7, offset=12)[-1])
    assert [a["label"] for a in second] == [f"ตัวเลือก {n}" for n in range(12, 20)]
    for offset in (0, 12):
        assert_valid_for_line(line_messages(payload, row_id=7, offset=offset))


def test_the_next_page_button_speaks_the_respondents_language():
    """English mode: "More ▶", not the Thai "ถัดไป ▶" (every word follows the chosen language)."""
    many = Message(("Pick one",), tuple(Button(f"Choice {n}", "q1", str(n)) for n in range(20)))
    for language, label in (("en", "More ▶"), ("th", "ถัดไป ▶")):
        last = quick_replies(line_messages(render(many, language), row_id=3)[-1])[-1]
        assert last["label"] == label and read_more(last["data"]) == (3, 12)


def test_thirteen_left_fit_on_the_last_page_without_next():
    payload = {"text": "เลือก", "buttons": buttons(25)}
    assert [a["label"] for a in quick_replies(line_messages(payload, 1, offset=12)[-1])] == [
        f"ตัวเลือก {n}" for n in range(12, 25)
    ]
    assert len(quick_replies(line_messages({"text": "x", "buttons": buttons(13)}, 1)[-1])) == 13


def test_pages_of_many_buttons_chain_to_the_end():
    payload = {"text": "เลือก", "buttons": buttons(40)}
    seen, offset = [], 0
    while True:
        actions = quick_replies(line_messages(payload, 3, offset)[-1])
        more = read_more(actions[-1]["data"])
        seen += [a["label"] for a in actions if read_more(a["data"]) is None]
        if more is None:
            break
        offset = more[1]
    assert seen == [f"ตัวเลือก {n}" for n in range(40)]


def test_a_stale_offset_shows_the_first_page():
    payload = {"text": "เลือก", "buttons": buttons(3)}
    assert len(quick_replies(line_messages(payload, 1, offset=12)[-1])) == 3


def test_more_data_round_trips_and_is_never_an_answer():
    assert read_more(more_data(7, 12)) == (7, 12)
    assert postback.decode(more_data(7, 12)) is None
    assert read_more(postback.encode("_more", "7")) is None
    for junk in ("", "[", '["_more","7"]', '["_more","7","-1"]', '["_more","07","1"]',
                 '["_more","๗","1"]', '["_more",7,12]', '["_more","7","12",""]',
                 '["_more","1","' + "9" * 5000 + '"]', "[" * 100_000):  # fmt: skip
        assert read_more(junk) is None


def test_a_long_thai_label_is_cut_between_whole_letters():
    label = "ไม่เห็นด้วยอย่างยิ่งเลยจริงๆ"
    payload = {"text": "ข้อ 5/40", "buttons": [{"label": label, "data": '["q","sd"]'}]}
    (action,) = quick_replies(line_messages(payload, 1)[-1])
    # 19 UTF-16 units and "…": ยิ่ (ย + SARA I + MAI EK) stays whole, ง moves out whole.
    assert action["label"] == "ไม่เห็นด้วยอย่างยิ่…"
    assert action["displayText"] == label
    kept = action["label"].removesuffix("…")
    assert graphemes(kept) == graphemes(label)[: len(graphemes(kept))]
    assert cut_graphemes("ไม่เห็นด้วยอย่างยิ่ง", 20) == "ไม่เห็นด้วยอย่างยิ่ง"  # exactly 20 units


def test_cut_drops_a_trailing_space_before_the_ellipsis():
    assert cut_graphemes("ไปตลาด ทุกวันเลยค่ะ", 8) == "ไปตลาด…"


def test_a_long_thai_text_splits_at_line_breaks_and_joins_back():
    line = "ฉันไปร่วมประชุมกับชาวบ้านที่ตลาดเก่าลำปางทุกเดือน 🐴 นั่งรถม้ารอบเมือง"
    text = "\n".join([line] * 200)[:12_000]
    assert len(text) == 12_000
    chunks = split_text(text)
    assert len(chunks) == 3
    assert all(units(chunk) <= 5000 for chunk in chunks)
    # Split at single line breaks: those are the only characters dropped.
    assert "\n".join(chunks) == text
    assert all(not chunk.startswith("\n") and not chunk.endswith("\n") for chunk in chunks)
    messages = line_messages({"text": text, "buttons": buttons(2)}, 1)
    assert [m["text"] for m in messages] == chunks
    assert_valid_for_line(messages)


def test_a_line_break_is_not_worth_an_extra_message():
    # Splitting at the early line break would take 3 messages where 2 are enough.
    assert [units(c) for c in split_text("ข้อ 3/40\n" + "ก" * 6000)] == [5000, 1009]
    # Here it costs nothing: the question's number stays on a line of its own.
    assert split_text("ข้อ 3/40\n" + "ก" * 4995) == ["ข้อ 3/40", "ก" * 4995]


def test_a_run_of_blank_lines_at_a_split_is_dropped_whole():
    text = "ก" * 4000 + "\n\r\n\n" + "ข" * 2000
    assert split_text(text) == ["ก" * 4000, "ข" * 2000]


def test_without_line_breaks_a_sentence_end_then_a_space_is_preferred():
    assert split_text("ก" * 4000 + ". " + "ข" * 500 + " " + "ค" * 1000) == [
        "ก" * 4000 + ". ",
        "ข" * 500 + " " + "ค" * 1000,
    ]
    assert split_text("ก" * 3000 + " " + "ข" * 1500 + " " + "ค" * 1000) == [
        "ก" * 3000 + " " + "ข" * 1500 + " ",
        "ค" * 1000,
    ]


def test_unbroken_thai_splits_between_whole_letters():
    text = "กิ่" * 2000  # 3 code units a letter: 5000 is not a multiple of 3
    chunks = split_text(text)
    assert [units(chunk) for chunk in chunks] == [4998, 1002]
    assert "".join(chunks) == text and chunks[1].startswith("ก")


def test_emoji_count_two_units_each():
    assert units("😀") == 2
    chunks = split_text("😀" * 3000)
    assert [len(chunk) for chunk in chunks] == [2500, 500]
    family = "👨‍👩‍👧‍👦"  # 11 units, one grapheme
    chunks = split_text(family * 500)
    assert all(units(chunk) <= 5000 and chunk == family * (len(chunk) // len(family))
               for chunk in chunks)  # fmt: skip
    assert cut_graphemes("😀" * 30, 20) == "😀" * 9 + "…"


def test_a_results_card_is_a_valid_flex_message():
    payload = {
        "text": "ผลของคุณค่ะ…\nทัศนคติ 3.5 (+0.5)\n██████░░░░\nคุณพร้อมเรียนรู้สิ่งใหม่",
        "buttons": buttons(2),
        "card": {
            "bars": [
                {"label": "ทัศนคติ", "score": 3.5, "change": 0.5, "meaning": "พร้อมเรียนรู้"},
                {"label": "ทักษะ", "score": 1.0, "change": 0.0, "meaning": ""},
                {"label": "ความรู้", "score": 5.0, "change": None, "meaning": "ดีมาก"},
            ],
            "strongest": "จุดเด่นของคุณ: การบริการ",
            "weakest": "เรื่องที่ลองฝึกเพิ่มได้: ภาษาอังกฤษ",
        },
    }
    (message,) = line_messages(payload, 1)
    assert message["type"] == "flex" and message["altText"] == payload["text"]
    assert_valid_for_line([message])
    bubble = message["contents"]
    assert [t["text"] for t in flex_texts(bubble["header"])] == ["ผลของคุณค่ะ…"]
    texts = [t["text"] for t in flex_texts(bubble)]
    assert texts == [
        "ผลของคุณค่ะ…",
        "ทัศนคติ", "3.5 (+0.5)", "พร้อมเรียนรู้",
        "ทักษะ", "1.0 (±0)",
        "ความรู้", "5.0", "ดีมาก",
        "จุดเด่นของคุณ: การบริการ", "เรื่องที่ลองฝึกเพิ่มได้: ภาษาอังกฤษ",
    ]  # fmt: skip
    assert all(t["wrap"] is True for t in flex_texts(bubble))
    inner = [
        row["contents"][0]
        for bar in bubble["body"]["contents"][:3]
        for row in bar["contents"]
        if row.get("backgroundColor") == "#E6EBF0"
    ]
    assert [(box["width"], box["backgroundColor"]) for box in inner] == [
        ("62%", "#06C755"),  # 62.5 rounds half to even
        ("1%", "#06C755"),
        ("100%", "#06C755"),
    ]
    assert len(quick_replies(message)) == 2


def test_a_long_results_text_is_cut_for_alt_text():
    card = {"bars": [{"label": "ก", "score": 2.0, "change": -0.3, "meaning": "ข"}],
            "strongest": "", "weakest": ""}  # fmt: skip
    (message,) = line_messages({"text": "ผลของคุณค่ะ\n" + "ยิ่ง" * 200, "card": card}, 1)
    assert units(message["altText"]) <= 400 and message["altText"].endswith("…")
    assert_valid_for_line([message])


def test_scores_and_bar_widths():
    assert [score_text(3.5, 0.5), score_text(3.5, -0.2), score_text(3.5, 0), score_text(3, None)] == [
        "3.5 (+0.5)", "3.5 (-0.2)", "3.5 (±0)", "3.0",
    ]  # fmt: skip
    assert [bar_width(s) for s in (0.0, 1.0, 1.02, 2.0, 3.5, 5.0, 6.0)] == [
        "1%", "1%", "1%", "25%", "62%", "100%", "100%",
    ]  # fmt: skip


def test_empty_text_still_carries_buttons_or_a_card():
    assert line_messages({"text": "", "buttons": []}, 1) == []
    assert line_messages({"text": "  \n "}, 1) == []
    (message,) = line_messages({"text": "", "buttons": buttons(2)}, 1)
    assert message["text"] == "…" and len(quick_replies(message)) == 2
    card = {"bars": [], "strongest": "จุดเด่น", "weakest": "ฝึกเพิ่ม"}
    (flex,) = line_messages({"text": "", "card": card}, 1)
    assert flex["type"] == "flex" and flex["altText"] == "…"
    assert_valid_for_line([message])
    assert_valid_for_line([flex])


def test_a_blank_button_is_dropped_and_one_with_long_data_goes_by_reference():
    """Data past LINE's 300 characters used to cost the button; a reference is always short."""
    payload = {
        "text": "เลือก",
        "buttons": [
            {"label": "ใช่", "data": '["q","y"]'},
            {"label": "ยาว", "data": postback.encode("q" * 120, "ก" * 300)},
            {"label": " ", "data": '["q","blank"]'},
            {"label": "ไม่", "data": '["q","n"]'},
        ],
    }
    messages = line_messages(payload, 1)
    actions = quick_replies(messages[-1])
    assert [a["label"] for a in actions] == ["ใช่", "ยาว", "ไม่"]
    assert [a["data"] for a in actions] == ["b:1.0", "b:1.1", "b:1.3"]  # indexes into the row
    assert_valid_for_line(messages)


def test_batches_hold_at_most_five():
    messages = [{"type": "text", "text": str(n)} for n in range(7)]
    assert [len(batch) for batch in batches(messages)] == [5, 2]
    assert [m for batch in batches(messages) for m in batch] == messages
    assert batches([]) == []
    long = line_messages({"text": "ก" * 27_000, "buttons": buttons(1)}, 1)
    assert [len(batch) for batch in batches(long)] == [5, 1]
    assert_valid_for_line(long)


# --- properties ---------------------------------------------------------------------------

THAI = [chr(code) for code in range(0x0E01, 0x0E3B)] + [chr(code) for code in range(0x0E3F, 0x0E5C)]
THAI_MARKS = [chr(code) for code in (0x0E31, *range(0x0E34, 0x0E3B), *range(0x0E47, 0x0E4F))]
OTHER = ["\n", "\r", " ", ".", "?", "!", "😀", "🐴", "🏽", "\u200d", "\ufe0f", "🇹", "🇭", "a", "1"]
CHARACTERS = st.one_of(
    st.sampled_from(THAI),
    st.sampled_from(THAI_MARKS),
    st.sampled_from(OTHER),
    # Lone surrogates can't reach us: JSON payloads and LINE's wire format can't carry them.
    st.characters(exclude_categories=["Cs"]),
)
TEXTS = st.text(CHARACTERS, max_size=300)
#: Long texts are pieces repeated, since Hypothesis can't draw 20,000 characters one by one.
LONG_TEXTS = st.lists(
    st.tuples(st.text(CHARACTERS, max_size=120), st.integers(1, 30)), max_size=6
).map(lambda pieces: "".join(piece * times for piece, times in pieces))


def assert_split(text: str, chunks: list[str], limit: int) -> None:
    """Chunks fit, and are the text's graphemes in order, less runs of line breaks at splits."""
    assert all(chunk and units(chunk) <= limit for chunk in chunks)
    # Only a grapheme longer than a whole chunk may be (and must be) cut inside.
    whole = all(units(g) <= limit for g in graphemes(text))
    pieces = [graphemes(chunk) if whole else list(chunk) for chunk in chunks]
    original = graphemes(text) if whole else list(text)
    position = 0
    for index, piece in enumerate(pieces):
        assert original[position : position + len(piece)] == piece
        position += len(piece)
        following = chunks[index + 1] if index + 1 < len(chunks) else ""
        if not following[:1] or following[0] not in BREAKS:
            while position < len(original) and original[position] in {"\n", "\r", "\r\n"}:
                position += 1
    assert position == len(original)
    if whole:
        assert len(chunks) <= filled_chunks(text, limit)


def filled_chunks(text: str, limit: int) -> int:
    """How many chunks filling each one up with whole graphemes would take."""
    count, used = 0, limit
    for grapheme in graphemes(text):
        if used + units(grapheme) > limit:
            count, used = count + 1, 0
        used += units(grapheme)
    return count


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LONG_TEXTS)
def test_split_text_keeps_long_text_whole_and_in_limits(text):
    assert_split(text, split_text(text), 5000)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(2, 40))
def test_split_text_at_small_limits(text, limit):
    assert_split(text, split_text(text, limit), limit)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(0, 30), st.sampled_from(["…", "", "...", "😀"]))
def test_cut_graphemes_fits_and_is_a_grapheme_prefix(text, limit, ellipsis):
    cut = cut_graphemes(text, limit, ellipsis)
    assert units(cut) <= limit
    if units(text) <= limit:
        assert cut == text
    elif units(ellipsis) <= limit:
        assert cut.endswith(ellipsis)
        kept = graphemes(cut[: len(cut) - len(ellipsis)])
        assert kept == graphemes(text)[: len(kept)]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(CHARACTERS), st.builds(json.dumps, st.lists(st.text()))))
def test_read_more_never_raises(data):
    result = read_more(data)
    assert result is None or more_data(*result) == data


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_NUMBER - 1), st.integers(0, MAX_NUMBER - 1))
def test_read_more_inverts_more_data(row_id, offset):
    assert read_more(more_data(row_id, offset)) == (row_id, offset)
    assert postback.decode(more_data(row_id, offset)) is None


@settings(max_examples=60, deadline=None)
@given(
    TEXTS,
    st.lists(st.tuples(TEXTS, st.text(max_size=320)), max_size=30),
    st.integers(0, 40),
)
def test_any_payload_renders_to_requests_line_accepts(text, answers, offset):
    payload = {"text": text, "buttons": [{"label": lab, "data": dat} for lab, dat in answers]}
    messages = line_messages(payload, 99, offset)
    if messages:
        assert_valid_for_line(messages)


def test_splitting_twenty_thousand_characters_is_quick():
    text = ("ฉันไปร่วมประชุม ชาวบ้าน 🐴 " * 800)[:20_000]
    began = time.perf_counter()
    chunks = split_text(text)
    assert time.perf_counter() - began < 1.0
    assert_split(text, chunks, 5000)
