"""Text from outside made safe to store: what SQLite or PostgreSQL cannot hold is replaced."""

from __future__ import annotations

import hashlib
import re

#: NUL, which PostgreSQL's text refuses, and the other C0 controls but tab, newline and carriage
#: return: no respondent types them on purpose, and they would only garble an export.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: A surrogate on its own (JSON can carry "\ud800"), which UTF-8 cannot encode at all.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` without control characters, and with each lone surrogate as U+FFFD (�).

    >>> storable("ab\\x00c\\ud800")
    'abc\\ufffd'
    >>> storable("สวัสดี\\n👋")
    'สวัสดี\\n👋'
    """
    return _LONE_SURROGATE.sub("\ufffd", _CONTROLS.sub("", text))


def storable_id(identifier: str) -> str:
    """An id made storable without merging it with another: unchanged when it is storable
    already, else a digest of it (cleaning alone could turn "\\x1f" and "" into the same id)."""
    cleaned = storable(identifier)
    if cleaned == identifier and identifier:
        return identifier
    raw = identifier.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(raw).hexdigest()
