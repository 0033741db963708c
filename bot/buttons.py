"""Buttons by reference: a channel sends a short token for a button; the server keeps its data.

A button's own data (bot/postback.py) names its question, and question names may be 120
characters, while Telegram's callback_data holds 64 bytes. So a channel sends "b:<row>.<index>":
button `index` of the outbox row it went out in. The tap is looked up in that row, which the
server keeps once sent; only the person it was sent to can use it, and an erased respondent's
rows are gone, so their old buttons go stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import postback
from storage.models import OutboxMessage
from survey_flows.session import TapInput

#: The shape of a reference: row ids fit a BIGINT, a message has at most a few dozen buttons.
REFERENCE = re.compile(r"b:(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,3})")


@dataclass(frozen=True)
class TappedButton:
    """A tap on a button sent by reference, to be looked up before the engine sees it."""

    reference: str


def reference(row_id: int, index: int) -> str:
    """The short data a channel sends for button `index` of outbox row `row_id`."""
    made = f"b:{row_id}.{index}"
    if not REFERENCE.fullmatch(made):
        raise ValueError(f"no reference for row {row_id}, button {index}")
    return made


def is_reference(data: str) -> bool:
    """Whether platform data has the shape reference() makes (it may still be stale)."""
    return REFERENCE.fullmatch(data) is not None


def look_up(session: Session, tapped: TappedButton, address: str) -> TapInput:
    """The tap a reference stands for; a stale tap (TapInput("", "")) when it is not one of the
    buttons sent to this address."""
    found = REFERENCE.fullmatch(tapped.reference)
    if found is None:
        return TapInput("", "")
    row = session.get(OutboxMessage, int(found.group(1)))
    buttons = (row.payload.get("buttons") or []) if row and row.address == address else []
    index = int(found.group(2))
    if index >= len(buttons) or not isinstance(buttons[index].get("data"), str):
        return TapInput("", "")
    return postback.decode(buttons[index]["data"]) or TapInput("", "")
