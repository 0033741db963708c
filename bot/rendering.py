"""Turn engine messages into the channel-neutral payload stored in the outbox."""

from __future__ import annotations

from typing import Any

from bot import postback
from bot.i18n import render_part, translate
from survey_flows.session import Message


def render(message: Message, language: str) -> dict[str, Any]:
    """Return {"text", "buttons": [{"label", "data"}]} in the respondent's language."""
    lines = [render_part(part, language) for part in message.parts]
    if message.progress:
        number, total = message.progress
        lines.insert(0, translate("progress", language, number=number, total=total))
    return {
        "text": "\n".join(line for line in lines if line),
        "buttons": [
            {
                "label": render_part(button.label, language),
                "data": postback.encode(button.question, button.value),
            }
            for button in message.buttons
        ],
    }
