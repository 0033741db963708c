"""Cutting text to a platform's limits without breaking a letter apart.

Lengths are counted in UTF-16 code units, the unit LINE and Telegram count message text in (an
emoji is 2). Text is only ever cut between grapheme clusters (`regex`'s \\X), so a Thai consonant
never loses its vowel or tone mark, except inside a single cluster longer than a whole message.
"""

from __future__ import annotations

import regex

#: LINE's limit for one text message, the default chunk size.
MAX_TEXT_UTF16 = 5000

GRAPHEME = regex.compile(r"\X")
#: Graphemes a text may be split at, and that are dropped there ("\r\n" is one grapheme).
LINE_BREAKS = frozenset({"\n", "\r", "\r\n"})
SENTENCE_ENDS = frozenset(".?!")


def utf16_units(text: str) -> int:
    """Length of text as LINE counts it: UTF-16 code units, so an emoji counts 2."""
    # Counting code points instead of encoding: a lone surrogate must not make this raise.
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def cut_graphemes(text: str, limit: int, ellipsis: str = "…") -> str:
    """Text cut to at most `limit` UTF-16 units between graphemes, ending in `ellipsis` if cut."""
    if utf16_units(text) <= limit:
        return text
    if utf16_units(ellipsis) > limit:
        ellipsis = ""
    budget = limit - utf16_units(ellipsis)
    kept: list[str] = []
    for match in GRAPHEME.finditer(text):
        budget -= utf16_units(match.group())
        if budget < 0:
            break
        kept.append(match.group())
    # "word …" reads as a dangling space; the ellipsis belongs against the last word.
    while kept and kept[-1].isspace():
        kept.pop()
    return "".join(kept) + ellipsis


def split_text(text: str, limit_utf16: int = MAX_TEXT_UTF16) -> list[str]:
    """Text as chunks of at most `limit_utf16` UTF-16 units, split where a reader would pause.

    Never more chunks than filling each one up would take: each is one more message for the
    respondent to scroll past. Within that, a chunk ends at the last line break that still
    allows it, else after the last ". ", "? " or "! ", else after the last space (Thai has no
    full stop; spaces separate its phrases), else after the last whole grapheme that fits.
    Only line breaks are dropped: the whole run of "\\n", "\\r\\n" or "\\r" at a split, so no
    message starts or ends with blank lines. A space or sentence end stays at the end of its
    chunk, so joining the chunks gives back the text minus exactly those runs. Empty text gives
    no chunks.
    """
    if limit_utf16 < 2:
        raise ValueError("a chunk must hold any one character, which takes up to 2 UTF-16 units")
    pieces: list[str] = []
    for grapheme in GRAPHEME.findall(text):
        if utf16_units(grapheme) <= limit_utf16:
            pieces.append(grapheme)
        else:
            # A grapheme longer than a whole message (thousands of stacked marks) cannot be
            # sent whole; cutting it between code points is the only way to send it at all.
            pieces += _code_point_pieces(grapheme, limit_utf16)
    fit_end = _fit_ends([utf16_units(piece) for piece in pieces], limit_utf16)
    # needed[i]: how many chunks pieces[i:] takes when every chunk is filled up.
    needed = [0] * (len(pieces) + 1)
    for index in range(len(pieces) - 1, -1, -1):
        needed[index] = 1 + needed[fit_end[index]]
    chunks: list[str] = []
    start = 0
    while start < len(pieces):
        end = fit_end[start]
        if end == len(pieces):
            chunks.append("".join(pieces[start:]))
            break
        cut, start_next = _split_point(pieces, start, end, needed)
        chunks.append("".join(pieces[start:cut]))
        start = start_next
    return chunks


def _code_point_pieces(text: str, limit: int) -> list[str]:
    """Text in pieces of whole code points, each at most `limit` UTF-16 units."""
    pieces = [""]
    for char in text:
        if utf16_units(pieces[-1] + char) > limit:
            pieces.append("")
        pieces[-1] += char
    return pieces


def _fit_ends(sizes: list[int], limit: int) -> list[int]:
    """For each start i, the end j of the longest run sizes[i:j] that sums to at most `limit`."""
    ends, end, total = [], 0, 0
    for start in range(len(sizes)):
        while end < len(sizes) and total + sizes[end] <= limit:
            total += sizes[end]
            end += 1
        ends.append(end)
        total -= sizes[start]
    return ends


def _split_point(pieces: list[str], start: int, end: int, needed: list[int]) -> tuple[int, int]:
    """Where a chunk of at most pieces[start:end] should end, and where the next one begins.

    A boundary is taken only if the rest still fits in as few chunks as filling this one up
    would leave; the last boundary of a kind leaves the least rest, so it is the one to try.
    """
    budget = needed[start] - 1
    # pieces[end] is the first that does not fit; as a line break it is dropped, so it counts.
    for cut in range(end, start, -1):
        if pieces[cut] in LINE_BREAKS and pieces[cut - 1] not in LINE_BREAKS:
            start_next = cut
            while start_next < len(pieces) and pieces[start_next] in LINE_BREAKS:
                start_next += 1
            if needed[start_next] <= budget:
                return cut, start_next
            break
    for cut in range(end, start + 1, -1):
        if pieces[cut - 1] == " " and pieces[cut - 2] in SENTENCE_ENDS:
            if needed[cut] <= budget:
                return cut, cut
            break
    # A space that starts the chunk would leave it blank: only one after some text will do.
    for cut in range(end, start + 1, -1):
        if pieces[cut - 1] == " ":
            if needed[cut] <= budget:
                return cut, cut
            break
    return end, end
