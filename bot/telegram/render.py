"""Outbox payloads as Telegram messages: plain text (so nothing a person typed becomes markup),
and each choice an inline button sent by reference (bot/buttons.py), under the text. The
results card alone is HTML, every character of it escaped, with each characteristic's name and
score in bold.

Telegram counts a message's 4,096 characters in UTF-16 code units, as LINE counts its 5,000, so
text is split the same way: between whole graphemes, where a reader would pause.
"""

from __future__ import annotations

import html
from typing import Any

from bot.buttons import reference
from bot.text_cut import GRAPHEME, cut_graphemes, split_text, utf16_units

MAX_TEXT = 4096
#: Telegram shows at most 100 buttons under a message.
MAX_BUTTONS = 100
#: A few short choices (ยินยอม / ไม่ยินยอม) share a row; anything longer gets a row each, so
#: every choice of a scale is seen whole, one under another.
SHORT_LABEL, MAX_IN_A_ROW = 12, 3


def telegram_messages(payload: dict[str, Any], row_id: int) -> list[dict[str, Any]]:
    """One outbox payload as sendMessage parameters (text, and an inline keyboard on the last)."""
    buttons = [
        (index, str(button.get("label", "")))
        for index, button in enumerate(payload.get("buttons") or [])
        if str(button.get("label", "")).strip()
    ][:MAX_BUTTONS]
    # Telegram refuses empty text; a keyboard needs a message to sit under.
    chunks = [chunk for chunk in split_text(payload.get("text") or "", MAX_TEXT) if chunk.strip()]
    if not chunks and buttons:
        chunks = ["…"]
    messages: list[dict[str, Any]] = [{"text": chunk} for chunk in chunks]
    if payload.get("card") and len(messages) == 1:
        card = _card_html(messages[0]["text"], payload["card"])
        messages = [{"text": card, "parse_mode": "HTML"}]
    if buttons:
        keys = [{"text": label, "callback_data": reference(row_id, i)} for i, label in buttons]
        messages[-1]["reply_markup"] = {"inline_keyboard": _rows(keys)}
    return messages


def _card_html(text: str, card: dict[str, Any]) -> str:
    """The card's text as Telegram HTML: escaped throughout, its score lines in bold."""
    headers = tuple(f"{bar['label']} {bar['score']:.1f}" for bar in card.get("bars") or [])
    lines = []
    for line in text.split("\n"):
        escaped = html.escape(line, quote=False)
        lines.append(f"<b>{escaped}</b>" if headers and line.startswith(headers) else escaped)
    return "\n".join(lines)


def _rows(keys: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Short choices side by side, others one per row."""
    short = all(len(GRAPHEME.findall(key["text"])) <= SHORT_LABEL for key in keys)
    if short and len(keys) <= MAX_IN_A_ROW:
        return [keys]
    return [[key] for key in keys]


def answered_text(text: str, label: str) -> str:
    """A question's message once answered: its text, and the choice under it, with no buttons
    left to tap a second time."""
    choice = f"\n\n✓ {label}"
    return cut_graphemes(text, MAX_TEXT - utf16_units(choice)) + choice
