"""Read what a respondent typed in the chat as a typed answer: number, date, yes/no or choice.

Respondents are carriage drivers and market vendors typing on a phone, often in Thai digits,
with polite particles ("ค่ะ", "ครับ", Northern "เจ้า") and spelling that only looks right. Every
check here is a pure function of the text (and of today's date, passed in), accepts any string,
never raises, and returns None when it cannot be sure, so that the engine asks again instead of
storing a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Context, Decimal
from types import MappingProxyType

#: Longer text cannot be a number, a date or a yes/no; refusing it bounds the work on pastes.
_MAX_SHORT = 200
#: Longer text cannot be a pick from a list of choices.
_MAX_CHOICE = 1000
#: A select_multiple answer with more words than this is not a list of picks.
_MAX_WORDS = 60

# --- normalize_text -------------------------------------------------------------------------

#: Characters that change nothing a reader sees: zero-width space/joiners and BOM (pasted text),
#: emoji variation selectors and skin tones (so "👍🏽" and "✔️" compare equal to "👍" and "✔").
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0xFEFF, 0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)]
)

_SARA_AM = "\u0e33"  # ำ
_NIKHAHIT_AA = "\u0e4d\u0e32"  # ํ + า, which renders exactly like ำ
_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"  # Thai vowel, tone and other marks written above/below

#: A run of Thai marks on one consonant. Once a nikhahit is in the run, a following sara aa
#: belongs to it (ำ split in two), and so do marks typed after that: "นำ้" is "น้ำ" mistyped.
_THAI_MARKS = re.compile(f"[{_MARKS}]*\u0e4d[{_MARKS}\u0e32]*|[{_MARKS}]+")

#: The order Thai spelling puts marks in: vowel below or above the consonant, then the tone mark
#: (or thanthakhat), then the nikhahit of ำ. Phones accept any order and render them alike.
_MARK_RANK = {
    **dict.fromkeys("\u0e38\u0e39\u0e3a", 0),
    **dict.fromkeys("\u0e31\u0e34\u0e35\u0e36\u0e37\u0e47", 1),
    **dict.fromkeys("\u0e48\u0e49\u0e4a\u0e4b\u0e4c\u0e4e", 2),
    "\u0e4d": 3,
}


def normalize_digits(text: str) -> str:
    """Replace the decimal digits of every script (Thai, full-width, Arabic-Indic...) with 0-9.

    >>> normalize_digits("โทร ๐๘๑-๒๓๔")
    'โทร 081-234'
    >>> normalize_digits("１２٣۴")
    '1234'
    """
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch, ch)) for ch in text)


def _is_other_mark(text: str, index: int) -> bool:
    """Whether text[index] exists and is a combining mark of another script."""
    return 0 <= index < len(text) and unicodedata.category(text[index])[0] == "M"


def _order_marks(match: re.Match[str]) -> str:
    """Return one run of Thai marks in canonical order, each mark once."""
    run = match.group()
    # Thai mixed with another script's marks is not Thai spelling; reordering it could also
    # undo Unicode's canonical order and make normalize_text give a different answer twice.
    if _is_other_mark(match.string, match.start() - 1) or _is_other_mark(match.string, match.end()):
        return run
    marks = dict.fromkeys(run.replace("\u0e32", ""))
    # The combining class breaks ties so that the result is already in Unicode NFC order.
    ordered = "".join(sorted(marks, key=lambda m: (_MARK_RANK[m], unicodedata.combining(m))))
    return ordered + "\u0e32" if "\u0e32" in run else ordered


def _unify_thai(text: str) -> str:
    """Spell Thai the one way: เเ as แ, ํา as ำ, marks in canonical order and not repeated."""
    text = text.replace("เเ", "แ").replace(_SARA_AM, _NIKHAHIT_AA)
    return _THAI_MARKS.sub(_order_marks, text).replace(_NIKHAHIT_AA, _SARA_AM)


def normalize_text(text: str) -> str:
    """Reduce text to the form in which typed answers and labels are compared.

    >>> normalize_text("  Kad\u200b  Kong   TA ")
    'kad kong ta'
    >>> normalize_text("น\u0e4d\u0e49\u0e32") == "น้ำ"  # nikhahit, tone, sara aa
    True
    >>> normalize_text("ก\u0e48\u0e35\u0e35") == "กี่"  # tone before the vowel, vowel twice
    True
    >>> normalize_text("อื่น ๆ ข้อ ๒")
    'อื่นๆ ข้อ 2'
    """
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE)).casefold()
    text = _unify_thai(normalize_digits(text))
    # Again, because casefolding can leave text out of canonical order ("ǰ" becomes "j" and a
    # combining caron); without this the function would not be idempotent.
    text = unicodedata.normalize("NFC", text)
    # "อื่น ๆ" (the Royal Institute spacing) and "อื่นๆ" are the same word.
    return " ".join(text.split()).replace(" ๆ", "ๆ")


# --- shared helpers -----------------------------------------------------------------------------

#: Polite particles that end a Thai (or Northern Thai) answer without changing it, longest
#: first so that "ใช่เจ้า" loses "เจ้า" and not just its tail "จ้า".
_PARTICLE_WORDS = "ครับผม ครับ คับ ฮะ ฮับ ค่ะ คะ ค่า ค้า จ้ะ จ้า จ๊ะ นะ เน้อ เนาะ เจ้า"
_PARTICLES = tuple(
    sorted((normalize_text(word) for word in _PARTICLE_WORDS.split()), key=len, reverse=True)
)

#: Dashes and separators to read as ASCII in numbers and dates (NFKC leaves these alone).
_NUMERIC_PUNCTUATION = str.maketrans(
    {"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u066b": ".", "\u066c": ","}
)


def _strip_tail(text: str) -> str:
    """Drop trailing polite particles and full stops: "ใช่ค่ะ." reads as "ใช่"; "ค่ะ" stays."""
    while True:
        stripped = text.rstrip(" .!")
        if stripped in _PARTICLES:
            return stripped
        for particle in _PARTICLES:
            if stripped.endswith(particle):
                stripped = stripped[: -len(particle)].rstrip(" .!")
                break
        if stripped == text:
            return text
        text = stripped


def _prepare_short(text: str) -> str:
    """Normalize a short answer, also folding full-width letters and punctuation (NFKC)."""
    return normalize_text(unicodedata.normalize("NFKC", text)).translate(_NUMERIC_PUNCTUATION)


# --- numbers ------------------------------------------------------------------------------------

#: Thai prices are written "1,200.-" ("and no satang"); the ".-" is not part of the number.
_PRICE_DASH = re.compile(r"(?<=\d)\.-+(?!\d)")
#: Anything that looks like a number. A sign only counts at the start of a word: in "อายุ-35"
#: the dash is a separator, and the answer is refused rather than read as -35.
_NUMBER_TOKEN = re.compile(r"(?:(?<!\S)[-+])?\.?\d(?:[\d.,]*\d)?")
#: The numbers we accept: plain, or with commas every three digits, with an optional fraction.
_NUMBER = re.compile(r"[-+]?(?:(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?|\.\d+)")
#: Words right after a number that multiply it: "2 พัน" is 2,000 baht, not 2.
#: "พันธุ์" (breed) and "ล้านนา" (Lanna) only start like a multiplier.
_MULTIPLIER = re.compile(r" ?(ร้อย|พัน(?!ธ)|หมื่น|แสน|ล้าน(?!นา)|k\b)")
_MULTIPLIERS = {"ร้อย": 100, "พัน": 1000, "หมื่น": 10_000, "แสน": 100_000, "ล้าน": 10**6, "k": 1000}
#: Number words right after the number (or its multiplier) change it in ways we do not read:
#: "2 พันห้า" is 2,500 and "35 ครึ่ง" is 35.5, so such answers are refused.
_NUMBER_WORD = re.compile(" ?(?:หนึ่ง|สอง|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|ร้อย|พัน|หมื่น|แสน|ล้าน|ครึ่ง)")
#: Characters allowed around the number besides letters, marks, spaces, currency and emoji:
#: "35 ปี", "฿1,200", "500 บาท/วัน", "ประมาณ 35", "~500", "12 บาท 🙏".
_AROUND_NUMBER = frozenset("./()~!,")
#: Enough digits for any number below the 200-character cap, so multiplying never rounds.
_EXACT = Context(prec=_MAX_SHORT + 10)


def _is_words(text: str) -> bool:
    """Whether text holds only words, spaces and harmless symbols, and no other number."""
    return all(
        ch in _AROUND_NUMBER
        or unicodedata.category(ch)[0] in "LMZ"
        or unicodedata.category(ch) in ("Sc", "So")
        for ch in text
    )


def _read_number(text: str) -> Decimal | None:
    """Read the one number in a short answer, with unit words around it and any multiplier."""
    if len(text) > _MAX_SHORT:
        return None
    text = _PRICE_DASH.sub("", _prepare_short(text))
    tokens = list(_NUMBER_TOKEN.finditer(text))
    if len(tokens) != 1 or not _NUMBER.fullmatch(tokens[0].group()):
        return None
    token = tokens[0]
    value = Decimal(token.group().replace(",", ""))
    end = token.end()
    if multiplier := _MULTIPLIER.match(text, end):
        value = _EXACT.multiply(value, _MULTIPLIERS[multiplier.group(1)])
        end = multiplier.end()
    if _NUMBER_WORD.match(text, end) or not _is_words(text[: token.start()] + text[end:]):
        return None
    return value


def parse_integer(text: str) -> int | None:
    """Read a whole number, in any digits, with unit words allowed around it.

    >>> parse_integer("๓๕ ปี")
    35
    >>> parse_integer(" 1,200 บาทค่ะ")
    1200
    >>> parse_integer("2 พัน")
    2000
    >>> parse_integer("-3")
    -3
    >>> [parse_integer(text) for text in ("3.5", "", "abc", "1 2", "สิบสอง")]
    [None, None, None, None, None]
    """
    value = _read_number(text)
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def parse_decimal(text: str) -> float | None:
    """Read a number that may have a fraction, in any digits, with unit words allowed around it.

    >>> parse_decimal("๓.๕")
    3.5
    >>> parse_decimal("1,200.50")
    1200.5
    >>> parse_decimal("12 บาท")
    12.0
    >>> parse_decimal("1.5 หมื่น")
    15000.0
    >>> [parse_decimal(text) for text in ("", "1.2.3", "nan", "inf")]
    [None, None, None, None]
    """
    value = _read_number(text)
    # Finite always: the length cap keeps every number far below float's limit.
    return None if value is None else float(value)


# --- dates --------------------------------------------------------------------------------------

#: Days relative to today, in Thai, English and the Kham Mueang of Lampang (มื้อ = day).
_RELATIVE_DAYS = {
    _prepare_short(word): offset
    for words, offset in (
        ("วันนี้ มื้อนี้ today", 0),
        ("เมื่อวาน เมื่อวานนี้ วานนี้ มื้อวาน yesterday", -1),
        ("พรุ่งนี้ มื้ออื่น tomorrow", 1),
    )
    for word in words.split()
}

_MONTH_NAMES = (
    "มกราคม มกรา มค january jan",
    "กุมภาพันธ์ กุมภาพันธ กุมภา กพ february feb",
    "มีนาคม มีนา มีค march mar",
    "เมษายน เมษา เมย april apr",
    "พฤษภาคม พฤษภา พค may",
    "มิถุนายน มิถุนา มิย june jun",
    # กรกฏาคม with ฏ is the usual misspelling of กรกฎาคม.
    "กรกฎาคม กรกฎา กรกฏาคม กรกฏา กค july jul",
    "สิงหาคม สิงหา สค august aug",
    "กันยายน กันยา กย september sept sep",
    "ตุลาคม ตุลา ตค october oct",
    "พฤศจิกายน พฤศจิกา พย november nov",
    "ธันวาคม ธันวา ธค december dec",
)
#: Month words without their dots and spaces ("ธ.ค." is looked up as "ธค").
_MONTHS = {
    _prepare_short(word): number
    for number, words in enumerate(_MONTH_NAMES, start=1)
    for word in words.split()
}

#: A weekday before the date, as the bot itself writes dates ("เสาร์ 5 ธ.ค. 2569",
#: "Sat 5 Dec 2026") and as Thai letters do ("วันศุกร์ที่ 5 ..."); it is ignored, not checked.
_WEEKDAY = re.compile(
    r"^(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun)\.?,?"
    r"|(?:วัน)?(?:จันทร์|อังคาร|พุธ|พฤหัสบดี|พฤหัส|ศุกร์|เสาร์|อาทิตย์)?(?: ?ที่)?) ?"
)
#: พ.ศ. (Buddhist Era) or ค.ศ. (Common Era), with or without dots.
_ERA = re.compile(r"(พ|ค)\.? ?ศ\.?")
#: Words that label parts of the date: "เดือน ธันวาคม ปี 2569".
_FILLER = re.compile(r"เดือน|ปี(?= ?\d)")
_SEPARATOR = r"(?: ?[/.\-] ?| )"
_YEAR_MONTH_DAY = re.compile(rf"(\d{{4}}){_SEPARATOR}(\d{{1,2}}){_SEPARATOR}(\d{{1,2}})")
_DAY_MONTH_YEAR = re.compile(rf"(\d{{1,2}}){_SEPARATOR}(\d{{1,2}}){_SEPARATOR}(\d{{4}}|\d{{2}})")
_DAY_NAME_YEAR = re.compile(r"(\d{1,2})(\D+)(\d{4}|\d{2})")
#: Month first ("Dec 5, 2026"); something must part day and year, or "ธ.ค. 2569" would read
#: as the 25th.
_NAME_DAY_YEAR = re.compile(r"(\D+)(\d{1,2})(\D+)(\d{4}|\d{2})")
#: "5th of December", "Dec 5th, 2026".
_ORDINAL = re.compile(r"^(?:st|nd|rd|th)(?:of)?")
_PUNCTUATION_IN_NAMES = re.compile(r"[\s.,]")


def _month(words: str) -> int | None:
    """Return the month a word names ("ธ.ค.", "ธันวาคม", "dec"), or None."""
    key = _PUNCTUATION_IN_NAMES.sub("", words)
    return _MONTHS.get(key) or _MONTHS.get(_ORDINAL.sub("", key))


def _full_year(digits: str, era: str | None, month: int, day: int, today: date) -> int:
    """Return the Common Era year that the typed year means.

    Four digits: a Buddhist Era year if marked พ.ศ. or above 2400, else Common Era.
    Two digits: Buddhist Era unless marked ค.ศ. (Thai respondents write "69" for 2569), in the
    century that puts the date within the 100 years that end one year after today.
    """
    year = int(digits)
    offset = 0 if era == "ค" else 543
    if len(digits) == 4:
        return year - 543 if era == "พ" or (era is None and year > 2400) else year
    end = today.year + 1 + offset
    year = end - (end - year) % 100
    if (year, month, day) > (end, today.month, today.day):
        year -= 100
    return year - offset


def _make_date(year: int, month: int, day: int) -> date | None:
    """Return the date, or None when there is no such day."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str, today: date) -> date | None:
    """Read a date, day first, in Buddhist or Common Era years, or "today"/"yesterday".

    Two-digit years are Buddhist Era, in the century that puts the date within the 100 years
    ending one year after today: in 2026 (2569), "69" is 2569 and "85" is 2485 (1942).

    >>> today = date(2026, 11, 23)
    >>> parse_date("5/12/2569", today)
    datetime.date(2026, 12, 5)
    >>> parse_date("๕ ธ.ค. ๖๙", today)
    datetime.date(2026, 12, 5)
    >>> parse_date("วันศุกร์ที่ 5 ธันวาคม พ.ศ. 2569", today)
    datetime.date(2026, 12, 5)
    >>> parse_date("2026-12-05", today), parse_date("5 Dec 2026", today)
    (datetime.date(2026, 12, 5), datetime.date(2026, 12, 5))
    >>> parse_date("เมื่อวานค่ะ", today)
    datetime.date(2026, 11, 22)
    >>> parse_date("31/2/2569", today) is None
    True
    """
    if len(text) > _MAX_SHORT:
        return None
    text = _strip_tail(_prepare_short(text))
    if text in _RELATIVE_DAYS:
        try:
            return today + timedelta(days=_RELATIVE_DAYS[text])
        except OverflowError:  # "tomorrow" on date.max
            return None
    text = _WEEKDAY.sub("", text, count=1)
    eras = {match.group(1) for match in _ERA.finditer(text)}
    if len(eras) > 1:
        return None
    era = eras.pop() if eras else None
    text = " ".join(_FILLER.sub(" ", _ERA.sub(" ", text)).split())
    if match := _YEAR_MONTH_DAY.fullmatch(text):
        year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    elif match := _DAY_MONTH_YEAR.fullmatch(text):
        day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
    elif match := _DAY_NAME_YEAR.fullmatch(text):
        day, month, year = int(match.group(1)), _month(match.group(2)), match.group(3)
    elif (match := _NAME_DAY_YEAR.fullmatch(text)) and _ORDINAL.sub(
        "", _PUNCTUATION_IN_NAMES.sub("", match.group(3))
    ) == "":
        month, day, year = _month(match.group(1)), int(match.group(2)), match.group(4)
    else:
        return None
    if month is None:
        return None
    return _make_date(_full_year(year, era, month, day, today), month, day)


# --- yes / no -----------------------------------------------------------------------------------

_YES = (
    "ใช่ ใช่แล้ว ช่าย ได้ ได้เลย ตกลง ยินยอม ยอมรับ ถูก ถูกต้อง รับทราบ โอเค โอเคร"
    " ok okay oke okey yes y yeah yep yup sure"
    # Standing alone, a polite particle answers yes; แม่น is Kham Mueang for ใช่.
    " ค่ะ ครับ ครับผม ค่า จ้า จ้ะ ฮะ เจ้า แม่น แม่นแล้ว"
    " ✅ ✔ ✓ ☑ 👍 👌 🆗 🙆"
)
_NO = (
    "ไม่ ไม่ใช่ ไม่ได้ ไม่ยินยอม ไม่ยอม ไม่ตกลง ไม่เอา ไม่ถูก ไม่ถูกต้อง ปฏิเสธ ม่าย"
    " no n nope nah"
    # บ่ is Kham Mueang for ไม่.
    " บ่ บ่ใช่ บ่แม่น บ่ได้ บ่เอา"
    " ❌ ✖ ✗ ✘ ❎ 👎 🙅 🚫 ⛔"
)
_YES_NO = {
    **{_prepare_short(word): True for word in _YES.split()},
    **{_prepare_short(word): False for word in _NO.split()},
}


def _spaced_symbol(ch: str) -> str:
    """Set a yes/no emoji apart as its own word, and drop other symbols (🙏, 😊) as noise."""
    if unicodedata.category(ch)[0] != "S":
        return ch
    return f" {ch} " if ch in _YES_NO else " "


def parse_yes_no(text: str) -> bool | None:
    """Read yes (True) or no (False) in Thai, Northern Thai, English or emoji.

    >>> [parse_yes_no(text) for text in ("ใช่ค่ะ", "ok", "👍🏽", "ได้เลย 🙏", "เจ้า")]
    [True, True, True, True, True]
    >>> [parse_yes_no(text) for text in ("ไม่ใช่ครับ", "no", "❌", "บ่ได้")]
    [False, False, False, False]
    >>> [parse_yes_no(text) for text in ("ไม่แน่ใจ", "ใช่ ไม่ใช่", "", "?")]
    [None, None, None, None]
    """
    if len(text) > _MAX_SHORT:
        return None
    # ๆ repeats the word before it: "ใช่ๆ" is just "ใช่".
    text = "".join(_spaced_symbol(ch) for ch in _prepare_short(text) if ch != "ๆ")
    whole = _strip_tail(" ".join(text.split())).replace(" ", "")
    if whole in _YES_NO:
        return _YES_NO[whole]
    # Otherwise every word must agree: "ใช่ ตกลง" is yes, "ใช่ ไม่ใช่" is unclear.
    votes = {_YES_NO.get(_strip_tail(word)) for word in text.split()}
    return votes.pop() if len(votes) == 1 else None


# --- choices ------------------------------------------------------------------------------------

#: A choice picked by its number: "2", "2.", "(2)", "ข้อ 2", "ข้อที่ ๒", "เบอร์ 2", "no. 2".
_POSITION = re.compile(
    r"(?:ข้อที่|ข้อ|ตัวเลือกที่|ตัวเลือก|เลือกข้อ|เลือก|ตอบข้อ|ตอบ|อันที่|หมายเลข|เบอร์"
    r"|no\.?|number|option|choice|#)? ?[(\[]? ?(\d{1,3}) ?[)\].]?"
)
#: Where a select_multiple answer splits, coarsest first: punctuation, "and", then spaces.
_SPLITTERS = (re.compile(r"[,;/+、，]"), re.compile(r"และ|กับ|&|\band\b"), re.compile(r" "))
_WORD_SEPARATORS = re.compile(r"[,;/+、，& ]+|และ|กับ")

#: A choice as matched: its name, its name normalized, and its labels normalized.
_Prepared = list[tuple[str, str, tuple[str, ...]]]


def _prepare_choices(choices: Sequence[tuple[str, Sequence[str]]]) -> _Prepared:
    """Normalize each choice's name and labels once per answer."""
    return [
        (name, normalize_text(name), tuple(normalize_text(label) for label in labels))
        for name, labels in choices
    ]


def _exact_matches(typed: str, prepared: _Prepared) -> set[str]:
    """Return the names of choices that typed names exactly: by number, label or name."""
    found = {name for name, key, labels in prepared if typed == key or typed in labels}
    if (position := _POSITION.fullmatch(typed)) and 1 <= int(position.group(1)) <= len(prepared):
        found.add(prepared[int(position.group(1)) - 1][0])
    return found


def _match_one(text: str, prepared: _Prepared) -> str | None:
    """Return the one choice that text names, or None when none or several fit."""
    typed = normalize_text(text)
    forms = [form for form in dict.fromkeys((typed, _strip_tail(typed))) if form]
    # Exact readings first, as typed and then without polite particles; a number that is
    # also another choice's label is ambiguous, not a win for either reading.
    for form in forms:
        if found := _exact_matches(form, prepared):
            return found.pop() if len(found) == 1 else None
    # Then the start of a label, when long enough to mean something.
    for form in forms:
        if len(form) >= 3:
            found = {
                name for name, _, labels in prepared if any(x.startswith(form) for x in labels)
            }
            if found:
                return found.pop() if len(found) == 1 else None
    return None


def match_choice(text: str, choices: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """Return the name of the choice the respondent typed: its number, label or name.

    choices are (name, labels) in display order. A label may be shortened to its first three
    or more characters when no other label starts the same way.

    >>> busy = [("more", ["มากขึ้น", "Busier"]), ("same", ["เท่าเดิม", "About the same"])]
    >>> [match_choice(text, busy) for text in ("2", "ข้อ ๑", "เท่าเดิมค่ะ", "busier", "มาก")]
    ['same', 'more', 'same', 'more', 'more']
    >>> [match_choice(text, busy) for text in ("3", "", "ไม่รู้")]
    [None, None, None]
    """
    if len(text) > _MAX_CHOICE:
        return None
    return _match_one(text, _prepare_choices(choices))


def _match_pieces(text: str, prepared: _Prepared, level: int) -> list[str] | None:
    """Match text as one choice, else as pieces split at this level's separators, else None."""
    if (name := _match_one(text, prepared)) is not None:
        return [name]
    if level == len(_SPLITTERS):
        return None
    spans, start = [], 0
    for separator in _SPLITTERS[level].finditer(text):
        spans.append((start, separator.start()))
        start = separator.end()
    spans = [(a, b) for a, b in [*spans, (start, len(text))] if text[a:b].strip()]
    if len(spans) <= 1:
        return _match_pieces(text, prepared, level + 1) if spans else None
    names: list[str] = []
    first = 0
    while first < len(spans):
        # The longest run of pieces that is one choice wins, so labels that contain a
        # separator ("คณะดูงาน/โรงเรียน", "Thai tourists") survive the split.
        for last in range(len(spans) - 1, first, -1):
            name = _match_one(text[spans[first][0] : spans[last][1]], prepared)
            if name is not None:
                names.append(name)
                first = last + 1
                break
        else:
            found = _match_pieces(text[slice(*spans[first])], prepared, level + 1)
            if found is None:
                return None
            names.extend(found)
            first += 1
    return names


def match_choices(text: str, choices: Sequence[tuple[str, Sequence[str]]]) -> list[str] | None:
    """Return the names of all choices typed in one message, in display order, or None.

    >>> customers = [("thai", ["นักท่องเที่ยวไทย"]), ("foreign", ["นักท่องเที่ยวต่างชาติ"]),
    ...              ("locals", ["คนในพื้นที่"]), ("schools", ["คณะดูงาน/โรงเรียน"])]
    >>> match_choices("๓, ๑", customers)
    ['thai', 'locals']
    >>> match_choices("1, 3 และ 4", customers)
    ['thai', 'locals', 'schools']
    >>> match_choices("คณะดูงาน/โรงเรียน, นักท่องเที่ยวไทย", customers)
    ['thai', 'schools']
    >>> match_choices("1, 9", customers) is None
    True
    """
    if len(text) > _MAX_CHOICE:
        return None
    text = normalize_text(text)
    # Bounds the work of trying runs of pieces: nobody picks from a list in sixty words.
    if len(_WORD_SEPARATORS.split(text)) > _MAX_WORDS:
        return None
    prepared = _prepare_choices(choices)
    names = _match_pieces(text, prepared, 0)
    if not names:
        return None
    picked = set(names)
    return list(dict.fromkeys(name for name, _, _ in prepared if name in picked))


#: Every check by the question type it reads, for documentation and lookup.
CHECKS: Mapping[str, Callable[..., object]] = MappingProxyType(
    {
        "integer": parse_integer,
        "decimal": parse_decimal,
        "date": parse_date,
        "yes_no": parse_yes_no,
        "select_one": match_choice,
        "select_multiple": match_choices,
    }
)
