"""Turn engine messages into the channel-neutral payload stored in the outbox."""

from __future__ import annotations

from typing import Any

from bot import postback
from bot.i18n import render_part, translate
from survey_flows.session import Bar, Message, ResultsCard

#: Cells in a text bar; a score of 1 is empty and 5 is full.
BAR_CELLS = 10


def render(message: Message, language: str) -> dict[str, Any]:
    """Return {"text", "buttons": [{"label", "data"}], "more"?, "card"?} in the respondent's
    language; "more" labels the button that turns to the next page, where a channel shows
    buttons in pages."""
    lines = [render_part(part, language) for part in message.parts]
    if message.progress:
        number, total = message.progress
        lines.insert(0, translate("progress", language, number=number, total=total))
    payload: dict[str, Any] = {"text": "\n".join(line for line in lines if line)}
    if message.card:
        # A blank line separates the words from the text bars, which graphic channels replace.
        payload["text"] += "\n\n" + "\n".join(card_lines(message.card, language))
        payload["card"] = card_data(message.card, language)
    payload["buttons"] = [
        {
            "label": render_part(button.label, language),
            "data": postback.encode(button.question, button.value),
        }
        for button in message.buttons
    ]
    if message.buttons:
        payload["more"] = translate("button.more", language)
    return payload


def text_bar(score: float) -> str:
    """A score from 1 to 5 as a bar of blocks, e.g. 3.8 -> "███████░░░"."""
    filled = round((min(max(score, 1.0), 5.0) - 1) / 4 * BAR_CELLS)
    return "█" * filled + "░" * (BAR_CELLS - filled)


def change_text(bar: Bar) -> str:
    """The change since the last round, e.g. "+0.6", or "" on a first round."""
    if bar.change is None:
        return ""
    return f" ({bar.change:+.1f})" if bar.change else " (±0)"


def card_lines(card: ResultsCard, language: str) -> list[str]:
    """The card as plain text, for channels and screens without graphics."""
    lines: list[str] = []
    for bar in card.bars:
        lines += [f"{bar.label} {bar.score:.1f}{change_text(bar)}", text_bar(bar.score)]
        if bar.meaning:
            lines.append(bar.meaning)
        lines.append("")
    return [*lines, *strongest_and_weakest(card, language).values()]


def strongest_and_weakest(card: ResultsCard, language: str) -> dict[str, str]:
    """The card's strongest and weakest lines, when it has them."""
    lines = {}
    if card.strongest:
        lines["strongest"] = translate("results.strongest", language, name=card.strongest)
    if card.weakest:
        lines["weakest"] = translate("results.weakest", language, name=card.weakest)
    return lines


def card_data(card: ResultsCard, language: str) -> dict[str, Any]:
    """The card as data, for channels that draw it (the simulator, LINE Flex)."""
    return {
        "bars": [
            {"label": b.label, "score": b.score, "change": b.change, "meaning": b.meaning}
            for b in card.bars
        ],
        **strongest_and_weakest(card, language),
    }
