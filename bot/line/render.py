"""Outbox payloads as LINE Messaging API message objects: pure functions, no I/O.

Every length here is counted in UTF-16 code units, the unit LINE counts message text and
altText in (an emoji is 2). LINE counts action labels and displayText in grapheme clusters
instead, but which clusters depends on the Unicode version and segmenter behind its servers
(Thai SARA AM joins its consonant under extended rules, not under legacy ones). A UTF-16 count
is never smaller than any grapheme count, so a label that fits in UTF-16 units fits on LINE
whatever it segments by; the price is that a Thai label heavy with vowel and tone marks is cut
a few letters early (the tapped answer still shows in full, as displayText).

Text is cut by bot/text_cut.py: only between grapheme clusters.
"""

from __future__ import annotations

import json
from typing import Any

from bot.buttons import reference
from bot.text_cut import GRAPHEME, cut_graphemes, split_text

MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_DISPLAY_TEXT = 300
MAX_POSTBACK_DATA = 300
MAX_PER_REQUEST = 5
MAX_ALT_TEXT = 400

#: The quick reply that shows the next page of buttons, for a payload rendered without one.
MORE_LABEL = "ถัดไป ▶"
#: First element of a "more" postback; bot.postback.decode only accepts 2-element lists, so a
#: 3-element list can never be mistaken for an answer.
MORE_TAG = "_more"
#: Row ids and offsets above this are refused: Postgres BIGINT tops out below it, and a bound
#: keeps read_more clear of int()'s 4,300-digit limit on untrusted text.
MAX_NUMBER = 10**19

#: Quick replies sit in one row that scrolls sideways. On a 390 px phone about this much of it
#: shows; choices past the edge are easy to miss, and on a scale that biases the answers.
ROW_WIDTH_PX = 360
#: A rough, generous width per quick reply: its padding and gap, and per letter (Thai or Latin)
#: at LINE's quick-reply font size.
BUTTON_PADDING_PX, LETTER_PX = 34, 8
#: Up to this many buttons that do not fit in that row are stacked in the message instead, each
#: the phone's width; more than that (a long list) stays a row of pages.
MAX_STACKED = 8

GREEN = "#06C755"
GREY = "#E6EBF0"
MUTED = "#555555"


def more_data(row_id: int, offset: int) -> str:
    """Postback data of the "ถัดไป" quick reply: show outbox row `row_id`'s buttons from `offset`."""
    if not (0 <= row_id < MAX_NUMBER and 0 <= offset < MAX_NUMBER):
        raise ValueError(f"row id and offset must be in 0..{MAX_NUMBER - 1}")
    return json.dumps([MORE_TAG, str(row_id), str(offset)], separators=(",", ":"))


def read_more(data: str) -> tuple[int, int] | None:
    """(row id, offset) from postback data made by more_data(); anything else gives None."""
    try:
        unpacked = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not (
        isinstance(unpacked, list)
        and len(unpacked) == 3
        and unpacked[0] == MORE_TAG
        and all(
            isinstance(part, str) and part.isascii() and part.isdigit() and len(part) <= 19
            for part in unpacked[1:]
        )
    ):
        return None
    # At most 19 digits is below MAX_NUMBER, so more_data accepts any of them.
    row_id, offset = int(unpacked[1]), int(unpacked[2])
    # Only the exact form more_data makes ("07" is not 7), so each stays the other's inverse.
    return (row_id, offset) if more_data(row_id, offset) == data else None


def batches(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Messages in request-sized groups: LINE takes at most 5 messages per push or reply."""
    return [
        messages[index : index + MAX_PER_REQUEST]
        for index in range(0, len(messages), MAX_PER_REQUEST)
    ]


def shared_messages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A payload as LINE message objects that read the same for everyone they go to (one
    multicast): each button carries its own data rather than a reference to one person's row,
    and a long list is not paged (a broadcast has a button or two)."""
    return line_messages(payload, None)


def line_messages(
    payload: dict[str, Any], row_id: int | None, offset: int = 0
) -> list[dict[str, Any]]:
    """One outbox payload as LINE message objects (JSON dicts in LINE's wire format, camelCase).

    A results card becomes one Flex message (its text is the card as plain text, so it serves
    as altText rather than a message of its own); other text becomes text messages. The buttons
    from `offset` on become quick replies on the last message, 13 at most per page, unless they
    would not all show in one row of a phone's width: then the last text and a button per line
    go in one Flex bubble, so every choice of a five-point scale is seen at once.
    """
    text = payload.get("text") or ""
    card = payload.get("card")
    buttons = payload.get("buttons") or []
    messages: list[dict[str, Any]]
    if card:
        messages = [_flex_card(card, text)]
    else:
        # LINE refuses blank text, and a blank chunk would be an empty bubble anyway.
        messages = [{"type": "text", "text": chunk} for chunk in split_text(text) if chunk.strip()]
        choices = _sendable(buttons, row_id) if offset == 0 else []
        if 0 < len(choices) <= MAX_STACKED and not fits_one_row([b["label"] for b in choices]):
            question = messages.pop()["text"] if messages else ""
            return [*messages, _flex_buttons(question, choices)]
    items = _quick_reply_items(buttons, row_id, offset, payload.get("more") or MORE_LABEL)
    if items:
        if not messages:
            # Quick replies only exist attached to a message.
            messages.append({"type": "text", "text": "…"})
        messages[-1]["quickReply"] = {"items": items}
    return messages


def fits_one_row(labels: list[str]) -> bool:
    """Whether quick replies with these labels all show on a phone without a sideways scroll."""
    letters = sum(len(GRAPHEME.findall(cut_graphemes(label, MAX_LABEL))) for label in labels)
    return len(labels) * BUTTON_PADDING_PX + letters * LETTER_PX <= ROW_WIDTH_PX


def _sendable(buttons: list[dict[str, str]], row_id: int | None) -> list[dict[str, str]]:
    """The buttons LINE accepts, each carrying a short reference to itself in row `row_id`
    (bot/buttons.py) rather than its data, or (no row) its own data if it fits. One invalid
    action makes LINE refuse the whole request, so a button without a label is better lost."""
    return [
        {
            "label": button["label"],
            "data": reference(row_id, index) if row_id is not None else button.get("data", ""),
        }
        for index, button in enumerate(buttons)
        if str(button.get("label", "")).strip()
        and (row_id is not None or 0 < len(str(button.get("data", ""))) <= MAX_POSTBACK_DATA)
    ]


def _quick_reply_items(
    buttons: list[dict[str, str]], row_id: int | None, offset: int, more_label: str
) -> list[dict[str, Any]]:
    """The page of buttons starting at `offset` as quick reply items, "ถัดไป" last if more
    (without a row to page through, the first page only)."""
    sendable = _sendable(buttons, row_id)
    if row_id is None:
        sendable = sendable[:MAX_QUICK_REPLIES]
    if not 0 <= offset < len(sendable):
        # A stale "ถัดไป" tap must still leave the respondent something to tap.
        offset = 0
    rest = sendable[offset:]
    if len(rest) <= MAX_QUICK_REPLIES:
        return [_postback_item(button["label"], button["data"]) for button in rest]
    page = rest[: MAX_QUICK_REPLIES - 1]
    return [
        *(_postback_item(button["label"], button["data"]) for button in page),
        _postback_item(more_label, more_data(row_id, offset + len(page))),
    ]


def _postback_item(label: str, data: str) -> dict[str, Any]:
    """A quick reply that sends `data` back and shows the full label as the respondent's words."""
    return {"type": "action", "action": _postback(label, data)}


def _postback(label: str, data: str) -> dict[str, Any]:
    """A postback action; the full label shows in the chat as what the respondent tapped."""
    return {
        "type": "postback",
        "label": cut_graphemes(label, MAX_LABEL),
        "data": data,
        "displayText": cut_graphemes(label, MAX_DISPLAY_TEXT),
    }


def _flex_buttons(text: str, buttons: list[dict[str, str]]) -> dict[str, Any]:
    """A question and its choices as one bubble, a full-width button per choice, in order."""
    contents: list[dict[str, Any]] = [_text(text, size="md")] if text.strip() else []
    contents += [
        {
            "type": "button",
            "style": "secondary",
            "height": "sm",
            "margin": "md",
            "action": _postback(button["label"], button["data"]),
        }
        for button in buttons
    ]
    labels = " / ".join(button["label"] for button in buttons)
    alt = f"{text}\n{labels}" if text.strip() else labels
    return {
        "type": "flex",
        "altText": cut_graphemes(alt, MAX_ALT_TEXT),
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "contents": contents},
        },
    }


def _flex_card(card: dict[str, Any], text: str) -> dict[str, Any]:
    """The results card as a Flex bubble: a bar per characteristic, then strongest and weakest."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    body: list[dict[str, Any]] = [_bar(bar) for bar in card.get("bars") or []]
    closing = [line for line in (card.get("strongest"), card.get("weakest")) if line]
    if body and closing:
        body.append({"type": "separator", "margin": "xl"})
    body += [_text(line, size="sm", margin="md") for line in closing]
    bubble: dict[str, Any] = {"type": "bubble"}
    if header:
        bubble["header"] = {
            "type": "box",
            "layout": "vertical",
            "contents": [_text(header, size="lg", weight="bold")],
        }
    if body:
        bubble["body"] = {"type": "box", "layout": "vertical", "contents": body}
    return {
        "type": "flex",
        "altText": cut_graphemes(text, MAX_ALT_TEXT) if text.strip() else "…",
        "contents": bubble,
    }


def _bar(bar: dict[str, Any]) -> dict[str, Any]:
    """One characteristic: label and score on a row, a green bar on grey, then its meaning."""
    rows: list[dict[str, Any]] = [
        {
            "type": "box",
            "layout": "horizontal",
            "contents": [
                _text(bar["label"], size="sm", weight="bold", flex=3),
                _text(score_text(bar["score"], bar.get("change")), size="sm", align="end", flex=2),
            ],
        },
        {
            "type": "box",
            "layout": "vertical",
            "height": "8px",
            "cornerRadius": "4px",
            "backgroundColor": GREY,
            "contents": [
                {
                    "type": "box",
                    "layout": "vertical",
                    "height": "8px",
                    "cornerRadius": "4px",
                    "backgroundColor": GREEN,
                    "width": bar_width(bar["score"]),
                    "contents": [],
                }
            ],
        },
    ]
    if bar.get("meaning"):
        rows.append(_text(bar["meaning"], size="xs", color=MUTED))
    return {"type": "box", "layout": "vertical", "spacing": "sm", "margin": "lg", "contents": rows}


def _text(text: str, **style: Any) -> dict[str, Any]:
    """A wrapped Flex text: LINE otherwise cuts a long line off with "…"."""
    return {"type": "text", "text": text, "wrap": True, **style}


def score_text(score: float, change: float | None) -> str:
    """A score with its change since last round: "3.5 (+0.5)", "3.5 (±0)", or "3.5" at first."""
    if change is None:
        return f"{score:.1f}"
    if round(change, 1) == 0:
        return f"{score:.1f} (±0)"
    return f"{score:.1f} ({change:+.1f})"


def bar_width(score: float) -> str:
    """How much of the bar a 1-to-5 score fills, as a Flex width: "1%" (at 1) to "100%"."""
    percent = (min(max(score, 1.0), 5.0) - 1) / 4 * 100
    # An empty inner box would draw nothing at all; a sliver shows the bar is there.
    return f"{max(percent, 1):.0f}%"
