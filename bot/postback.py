"""The data a button carries back: which question it belonged to and the value it stands for."""

from __future__ import annotations

import json

from survey_flows.session import TapInput


def encode(question: str, value: str) -> str:
    """Pack a button's question and value into postback data."""
    return json.dumps([question, value], ensure_ascii=False, separators=(",", ":"))


def decode(data: str) -> TapInput | None:
    """Unpack postback data made by encode(); anything else gives None."""
    try:
        unpacked = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if (
        isinstance(unpacked, list)
        and len(unpacked) == 2
        and all(isinstance(part, str) for part in unpacked)
    ):
        return TapInput(question=unpacked[0], value=unpacked[1])
    return None
