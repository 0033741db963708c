"""What typed answers become: the inputs a carriage driver or vendor in Lampang really types."""

from __future__ import annotations

import doctest
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey_flows import answer_checks
from survey_flows.answer_checks import (
    CHECKS,
    match_choice,
    match_choices,
    normalize_digits,
    normalize_text,
    parse_date,
    parse_decimal,
    parse_integer,
    parse_yes_no,
)

#: The day the bot "is" in these tests: 23 Nov 2026 = 23 พ.ย. 2569.
TODAY = date(2026, 11, 23)

THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")

#: Choice lists as the flows in flows/ define them.
BUSY = [
    ("more", ["มากขึ้น", "Busier"]),
    ("same", ["เท่าเดิม", "About the same"]),
    ("less", ["น้อยลง", "Quieter"]),
]
MUNICIPALITY = [
    ("nakhon", ["เทศบาลนครลำปาง", "Lampang City Municipality"]),
    ("khelang", ["เทศบาลเมืองเขลางค์นคร", "Khelang Nakhon Town Municipality"]),
    ("other", ["อื่นๆ", "Other"]),
]
CUSTOMERS = [
    ("thai", ["นักท่องเที่ยวไทย", "Thai tourists"]),
    ("foreign", ["นักท่องเที่ยวต่างชาติ", "Foreign tourists"]),
    ("locals", ["คนในพื้นที่", "Local people"]),
    ("schools", ["คณะดูงาน/โรงเรียน", "Study tours and schools"]),
    ("shops", ["ร้านค้าที่มารับของ", "Shops buying wholesale"]),
]
EVER = [("yes", ["เคย", "Yes"]), ("no", ["ไม่เคย", "No"])]
#: A list whose labels are numbers: how many horses do you keep?
HORSES = [("none", ["0"]), ("one", ["1"]), ("two", ["2"]), ("more", ["3 ตัวขึ้นไป"])]


def test_doctests_in_the_module_pass() -> None:
    results = doctest.testmod(answer_checks)
    assert results.attempted > 20
    assert results.failed == 0


def test_registry_names_each_check() -> None:
    assert CHECKS["integer"] is parse_integer
    assert CHECKS["decimal"] is parse_decimal
    assert CHECKS["date"] is parse_date
    assert CHECKS["yes_no"] is parse_yes_no
    assert CHECKS["select_one"] is match_choice
    assert CHECKS["select_multiple"] is match_choices


# --- normalize ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("๐๑๒๓๔๕๖๗๘๙", "0123456789"),
        ("１２３", "123"),  # full-width, from some Android keyboards
        ("٠١٢٣", "0123"),  # Arabic-Indic
        ("ข้อ ๒", "ข้อ 2"),
        ("no digits", "no digits"),
    ],
)
def test_normalize_digits(typed: str, expected: str) -> None:
    assert normalize_digits(typed) == expected


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("  ข้าม  ", "ข้าม"),
        ("HELP", "help"),
        ("เริ่ม\u200bใหม่", "เริ่มใหม่"),  # zero-width space pasted from another app
        ("\ufeffสำรวจ", "สำรวจ"),
        ("ส\u0e4d\u0e32รวจ", "สำรวจ"),  # ำ typed as nikhahit + sara aa
        ("น\u0e33\u0e49", "น้ำ"),  # tone typed after sara am: "นำ้"
        ("น\u0e4d\u0e49\u0e32", "น้ำ"),  # nikhahit, tone, sara aa
        ("ก\u0e48\u0e35", "กี่"),  # tone mark before the upper vowel
        ("ก\u0e35\u0e48\u0e48", "กี่"),  # tone mark typed twice
        ("เเม่", "แม่"),  # two sara e for sara ae
        ("อื่น ๆ", "อื่นๆ"),
        ("ok  \n ค่ะ", "ok ค่ะ"),
        ("👍🏽", "👍"),  # skin tone
        ("✔️", "✔"),  # emoji presentation selector
    ],
)
def test_normalize_text_unifies_what_looks_the_same(typed: str, label: str) -> None:
    assert normalize_text(typed) == normalize_text(label)


def test_normalize_text_keeps_real_differences() -> None:
    assert normalize_text("ป่า") != normalize_text("ป้า")  # forest, aunt
    assert normalize_text("เคย") != normalize_text("ไม่เคย")
    assert normalize_text("1 2") != normalize_text("12")


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("35", 35),
        ("๓๕", 35),
        (" 1,200 ", 1200),
        ("๑,๒๐๐", 1200),
        ("35 ปี", 35),
        ("35ปีค่ะ", 35),
        ("ประมาณ 12 ปี", 12),
        ("-3", -3),
        ("0", 0),
        ("35.", 35),
        ("12.0", 12),
        ("１２", 12),
        ("1,200.-", 1200),  # how Thai prices are written
        ("฿500", 500),
        ("500 บาท/วัน", 500),
        ("2 พัน", 2000),  # "2 thousand": reading 2 would be a silent error
        ("2พันบาท", 2000),
        ("1.5 หมื่น", 15000),
        ("3 แสน", 300_000),
        ("12k", 12000),
        ("~500", 500),
        ("500 บาท 🙏", 500),
    ],
)
def test_parse_integer_reads(typed: str, expected: int) -> None:
    assert parse_integer(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "3.5",
        "",
        "   ",
        "abc",
        "1 2",
        "สิบสอง",  # number words alone are not read
        "35-40",  # a range: we cannot pick one
        "35 ถึง 40",  # there are two numbers
        "500+",
        "35?",
        "50%",
        "อายุ-35",
        "2 พันห้า",  # 2,500 colloquially; refused rather than read as 2,000
        "35 ครึ่ง",
        "1,2",
        "12,34,567",
        "1.200",
        "1e5",
        "5/12/2569",
        "ไม่รู้",
        "1" * 201,
    ],
)
def test_parse_integer_refuses(typed: str) -> None:
    assert parse_integer(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3.5", 3.5),
        ("๓.๕", 3.5),
        ("๓๕๐.๕", 350.5),
        ("1,200.50", 1200.5),
        ("12 บาท", 12.0),
        ("12", 12.0),
        (".5", 0.5),
        ("-0.25", -0.25),
        ("วันละ 350.50 บาทค่ะ", 350.5),
        ("1.5 พัน", 1500.0),
    ],
)
def test_parse_decimal_reads(typed: str, expected: float) -> None:
    assert parse_decimal(typed) == expected


@pytest.mark.parametrize("typed", ["", "1.2.3", "nan", "inf", "-inf", "1e3", "3,5", "ห้าร้อย", "1/2"])
def test_parse_decimal_refuses(typed: str) -> None:
    assert parse_decimal(typed) is None


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("5/12/2569", date(2026, 12, 5)),
        ("5/12/2026", date(2026, 12, 5)),
        ("05-12-2026", date(2026, 12, 5)),
        ("5.12.2569", date(2026, 12, 5)),
        ("5 / 12 / 2569", date(2026, 12, 5)),
        ("2026-12-05", date(2026, 12, 5)),
        ("๕/๑๒/๒๕๖๙", date(2026, 12, 5)),
        ("๒๐๒๖-๑๒-๐๕", date(2026, 12, 5)),
        ("5 ธ.ค. 2569", date(2026, 12, 5)),
        ("5 ธันวาคม 2569", date(2026, 12, 5)),
        ("5 ธ.ค. 69", date(2026, 12, 5)),
        ("5 ธค 69", date(2026, 12, 5)),
        ("5 ธันวา 69", date(2026, 12, 5)),
        ("๕ ธ.ค. ๖๙", date(2026, 12, 5)),
        ("5 Dec 2026", date(2026, 12, 5)),
        ("5 December 2026", date(2026, 12, 5)),
        ("Dec 5, 2026", date(2026, 12, 5)),
        ("5th of December 2026", date(2026, 12, 5)),
        ("วันที่ 5 ธ.ค. 2569", date(2026, 12, 5)),
        ("วันศุกร์ที่ 5 ธันวาคม พ.ศ. 2569", date(2026, 12, 5)),
        ("เสาร์ 5 ธ.ค. 2569", date(2026, 12, 5)),  # as the bot itself writes dates
        ("Sat 5 Dec 2026", date(2026, 12, 5)),
        ("5 ธ.ค. ค.ศ. 2026", date(2026, 12, 5)),
        ("5 ก.ค. 2569 ค่ะ", date(2026, 7, 5)),
        ("1/6/2555", date(2012, 6, 1)),
        ("1 มิ.ย. 55", date(2012, 6, 1)),
        ("5 กรกฏาคม 2569", date(2026, 7, 5)),  # the usual misspelling of กรกฎาคม
        ("29/2/67", date(2024, 2, 29)),
        ("1/1/2599", date(2056, 1, 1)),  # valid, if in the future: the form's constraint decides
        ("วันนี้", TODAY),
        ("today", TODAY),
        ("มื้อนี้", TODAY),  # Kham Mueang
        ("เมื่อวาน", date(2026, 11, 22)),
        ("เมื่อวานค่ะ", date(2026, 11, 22)),
        ("yesterday", date(2026, 11, 22)),
        ("มื้อวาน", date(2026, 11, 22)),
        ("พรุ่งนี้", date(2026, 11, 24)),
    ],
)
def test_parse_date_reads(typed: str, expected: date) -> None:
    assert parse_date(typed, TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1/1/70", date(2027, 1, 1)),  # 2570 BE = 2027, within a year of today
        ("24/11/70", date(1927, 11, 24)),  # 2570 BE would be past today + 1 year: 2470
        ("23/11/70", date(2027, 11, 23)),  # exactly today + 1 year still counts
        ("5/12/85", date(1942, 12, 5)),  # 2485 BE: an older driver's birth date
        ("5/12/00", date(1957, 12, 5)),  # 2500 BE
        ("5/12/99", date(1956, 12, 5)),  # 2499 BE
    ],
)
def test_parse_date_two_digit_years_are_buddhist_era_in_a_sliding_century(
    typed: str, expected: date
) -> None:
    assert parse_date(typed, TODAY) == expected


def test_parse_date_two_digit_window_slides_with_today() -> None:
    assert parse_date("1/1/70", date(2030, 6, 1)) == date(2027, 1, 1)
    assert parse_date("1/1/30", date(2090, 6, 1)) == date(2087, 1, 1)  # 2630 BE


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "31/2/2569",
        "29/2/68",
        "12/31/2026",  # month first is not a Thai habit: refused, not swapped
        "32/1/2569",
        "5/13/2569",
        "5/12",  # no year: refused rather than guessed
        "5 ธ.ค.",
        "ธ.ค. 2569",  # no day: not read as the 25th
        "5/12/569",
        "5 ธ.ค. พ.ศ. ค.ศ. 2569",
        "5 foo 2569",
        "สวัสดี",
        "5/12/2569" + " " * 200,
    ],
)
def test_parse_date_refuses(typed: str) -> None:
    assert parse_date(typed, TODAY) is None


def test_parse_date_at_the_ends_of_the_calendar() -> None:
    assert parse_date("tomorrow", date.max) is None
    assert parse_date("yesterday", date.min) is None
    assert parse_date("5/12/69", date.max) == date(9926, 12, 5)
    assert parse_date("5/12/69", date.min) is None


# --- yes / no -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "ใช่",
        "ใช่ค่ะ",
        "ใช่ครับ",
        "ใช่ ๆ",
        "ใช่แล้วค่ะ",
        "ได้",
        "ได้ค่ะ 🙏",
        "ตกลง",
        "ยินยอม",
        "ยินยอมค่ะ",
        "โอเค",
        "ok",
        "OK",
        "Ｏｋ",
        "yes",
        "Yes!",
        "y",
        "✅",
        "👍",
        "👍🏻👍🏻",
        "✔️",
        "ค่ะ",
        "ครับผม",
        "เจ้า",  # Kham Mueang women's "yes"
        "แม่นแล้วเจ้า",
        "รับทราบ",
    ],
)
def test_parse_yes_no_yes(typed: str) -> None:
    assert parse_yes_no(typed) is True


@pytest.mark.parametrize(
    "typed",
    [
        "ไม่",
        "ไม่ใช่",
        "ไม่ใช่ค่ะ",
        "ไม่ได้",
        "ไม่ ได้",
        "ไม่ยินยอม",
        "ไม่เอานะคะ",
        "no",
        "No.",
        "n",
        "❌",
        "👎",
        "บ่",
        "บ่ได้เจ้า",
    ],
)
def test_parse_yes_no_no(typed: str) -> None:
    assert parse_yes_no(typed) is False


@pytest.mark.parametrize(
    "typed",
    ["", "ไม่แน่ใจ", "ใช่ ไม่ใช่", "ใช่?", "สวัสดี", "อะไรก็ได้", "🙏", "1", "yes" * 100],
)
def test_parse_yes_no_unclear(typed: str) -> None:
    assert parse_yes_no(typed) is None


# --- choices ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "choices", "expected"),
    [
        ("2", BUSY, "same"),
        ("๒", BUSY, "same"),
        ("ข้อ 2", BUSY, "same"),
        ("ข้อที่ ๒", BUSY, "same"),
        ("2.", BUSY, "same"),
        ("(2)", BUSY, "same"),
        ("2 ค่ะ", BUSY, "same"),
        ("เท่าเดิม", BUSY, "same"),
        ("เท่าเดิมค่ะ", BUSY, "same"),
        ("About the same", BUSY, "same"),
        ("about", BUSY, "same"),
        ("มาก", BUSY, "more"),
        ("น้อยลง.", BUSY, "less"),
        ("less", BUSY, "less"),  # the choice name
        ("อื่น ๆ", MUNICIPALITY, "other"),
        ("อื่น", MUNICIPALITY, "other"),
        ("เทศบาลนคร", MUNICIPALITY, "nakhon"),
        ("lampang", MUNICIPALITY, "nakhon"),
        ("เคย", EVER, "yes"),
        ("ไม่เคยค่ะ", EVER, "no"),
        ("0", HORSES, "none"),  # a label, and no choice has number 0
        ("ข้อ 2", HORSES, "one"),  # ข้อ makes it a position
        ("3 ตัวขึ้นไป", HORSES, "more"),
    ],
)
def test_match_choice_picks(typed: str, choices: list, expected: str) -> None:
    assert match_choice(typed, choices) == expected


@pytest.mark.parametrize(
    ("typed", "choices"),
    [
        ("4", BUSY),
        ("0", BUSY),
        ("", BUSY),
        ("มา", BUSY),  # too short to be the start of a label
        ("ไม่รู้", BUSY),
        ("1, 2", BUSY),
        ("เทศบาล", MUNICIPALITY),  # starts two labels
        ("นักท่องเที่ยว", CUSTOMERS),
        ("2", HORSES),  # the 2nd choice ("1") or the label "2"? Ask again.
        ("2", []),
    ],
)
def test_match_choice_refuses(typed: str, choices: list) -> None:
    assert match_choice(typed, choices) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1,3", ["thai", "locals"]),
        ("1 3", ["thai", "locals"]),
        ("๑ ๓", ["thai", "locals"]),
        ("3, 1", ["thai", "locals"]),
        ("1, 3 และ 4", ["thai", "locals", "schools"]),
        ("1,1,3", ["thai", "locals"]),
        ("ข้อ 1 กับ 3 ค่ะ", ["thai", "locals"]),
        ("2", ["foreign"]),
        ("นักท่องเที่ยวไทย, คนในพื้นที่", ["thai", "locals"]),
        ("นักท่องเที่ยวไทย คนในพื้นที่", ["thai", "locals"]),
        ("คณะดูงาน/โรงเรียน", ["schools"]),
        ("Thai tourists, study tours and schools", ["thai", "schools"]),
        ("thai tourists local people", ["thai", "locals"]),
        ("5, ต่างชาติ", None),  # ต่างชาติ is inside a label, not its start
        ("1, 9", None),
        ("1, ไม่รู้", None),
        ("", None),
        (",,,", None),
        ("1 " * 100, None),
    ],
)
def test_match_choices(typed: str, expected: list[str] | None) -> None:
    assert match_choices(typed, CUSTOMERS) == expected


# --- properties ---------------------------------------------------------------------------------

#: Text a chat could carry, weighted towards Thai, digits and the marks that trip parsers up.
chat_text = st.text() | st.lists(
    st.sampled_from(
        [chr(c) for c in range(0x0E01, 0x0E5C)]
        + list("0123456789 ./-,:ๆ")
        + ["\u200b", "\ufe0f", "\u0301", "ค่ะ", "ธ.ค.", "พ.ศ.", "พัน", "👍", "❌"]
    ),
    max_size=40,
).map("".join)
choice_lists = st.lists(
    st.tuples(st.text(max_size=8), st.lists(st.text(max_size=12), max_size=3)), max_size=6
)


@settings(max_examples=150)
@given(chat_text, st.dates())
def test_parsers_never_raise_and_return_their_type(text: str, today: date) -> None:
    assert type(parse_integer(text)) in (int, type(None))
    assert type(parse_decimal(text)) in (float, type(None))
    assert type(parse_date(text, today)) in (date, type(None))
    assert parse_yes_no(text) in (True, False, None)
    assert isinstance(normalize_text(text), str)
    assert isinstance(normalize_digits(text), str)


@settings(max_examples=100)
@given(chat_text, choice_lists)
def test_choice_matchers_never_raise_and_return_names(text: str, choices: list) -> None:
    names = [name for name, _ in choices]
    assert match_choice(text, choices) in [*names, None]
    picked = match_choices(text, choices)
    assert picked is None or (picked and set(picked) <= set(names))


@settings(max_examples=100)
@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_integers_written_in_thai_digits_read_back(number: int) -> None:
    assert parse_integer(str(number).translate(THAI_DIGITS)) == number
    assert parse_integer(f"{number:,}".translate(THAI_DIGITS)) == number
    assert parse_integer(f"{number:,} บาท") == number


@settings(max_examples=100)
@given(st.dates(min_value=date(1858, 1, 1), max_value=date(9456, 12, 31)), st.dates())
def test_buddhist_era_dates_in_thai_digits_read_back(day: date, today: date) -> None:
    typed = f"{day.day}/{day.month}/{day.year + 543}".translate(THAI_DIGITS)
    assert parse_date(typed, today) == day


#: Labels without digits, so that a typed number can only mean a position.
labels = st.text(alphabet=st.sampled_from("กขคงมยรลวอาิีุ่้ abcxyz"), min_size=1, max_size=10)


@settings(max_examples=100)
@given(
    st.lists(st.tuples(labels, st.lists(labels, max_size=3)), min_size=1, max_size=12), st.data()
)
def test_choice_number_picks_that_choice(choices: list, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(choices) - 1))
    assert match_choice(str(index + 1), choices) == choices[index][0]


@settings(max_examples=200)
@given(chat_text)
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
