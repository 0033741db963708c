"""The message that hands an assisted interview over to the respondent's own phone: the word
and the one-time code ("เชื่อม 12345678"), typed or prefilled by the link of a QR code."""

from __future__ import annotations

import re

from survey_flows.answer_checks import normalize_digits
from survey_flows.session import Input, TextInput

#: The word before the code.
HAND_OVER_WORD = "เชื่อม"
#: The word and the code; English "link" too, and Thai digits once normalised.
HAND_OVER = re.compile(r"\s*(?:เชื่อม|link)\s*:?\s*([0-9]{8})\s*", re.IGNORECASE)
#: Longer text than this is an answer, not a code.
LONGEST = 40


def hand_over_text(code: str) -> str:
    """What the respondent sends from their phone to take the interview over."""
    return f"{HAND_OVER_WORD} {code}"


def hand_over_code(given: Input | object) -> str | None:
    """The code in a message that hands an interview over ("เชื่อม ๑๒๓๔๕๖๗๘" too), from text or
    from a deep link's keyword; else None."""
    text = given.text if isinstance(given, TextInput) else getattr(given, "keyword", None)
    if not isinstance(text, str) or len(text) > LONGEST:
        return None
    found = HAND_OVER.fullmatch(normalize_digits(text))
    return found.group(1) if found else None
