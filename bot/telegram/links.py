"""Deep links: t.me/<bot>?start=<payload> opens the chat at a survey or a workshop's sign-up.

Telegram's start payload is 1 to 64 characters of A-Z, a-z, 0-9, "_" and "-", so a Thai keyword
goes as base64url of its UTF-8 ("k" first), and a workshop as "w" and its id.
"""

from __future__ import annotations

import base64
import binascii
import re

#: Telegram's alphabet and length for a start payload.
PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
KEYWORD, WORKSHOP = "k", "w"


def keyword_payload(keyword: str) -> str:
    """The start payload that starts the survey with this keyword; ValueError if too long."""
    encoded = base64.urlsafe_b64encode(keyword.encode()).decode().rstrip("=")
    payload = KEYWORD + encoded
    if not PAYLOAD.fullmatch(payload):
        raise ValueError(f"keyword {keyword!r} is too long for a Telegram link (47 bytes at most)")
    return payload


def workshop_payload(workshop_id: int) -> str:
    """The start payload that opens a workshop's details and sign-up."""
    return f"{WORKSHOP}{workshop_id}"


def read_payload(payload: str) -> tuple[str, str] | None:
    """("keyword", text) or ("workshop", id) for a payload made here; None for anything else."""
    if not PAYLOAD.fullmatch(payload):
        return None
    kind, rest = payload[0], payload[1:]
    if kind == WORKSHOP and rest.isdigit() and len(rest) <= 18:
        return ("workshop", str(int(rest)))
    if kind == KEYWORD and rest:
        try:
            text = base64.urlsafe_b64decode(rest + "=" * (-len(rest) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return ("keyword", text) if text.strip() else None
    return None
