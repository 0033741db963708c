"""Loading XLSForms: real spreadsheets load or are refused with a row to fix, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey_flows.form import Kind
from survey_flows.xlsform import FormError, load_flow
from tests.corpora import corpus

ROOT = Path(__file__).resolve().parent.parent
CORPUS = corpus("xlsform-pyxform")
SPREADSHEETS = sorted(
    p for p in CORPUS.rglob("*") if p.suffix in {".xls", ".xlsx", ".xlsm", ".csv", ".md"}
)


def load_text(text: str, name: str = "form.md", **kwargs):
    """Load an XLSForm written as a markdown table."""
    return load_flow(text.encode(), name, **kwargs)


def test_corpus_is_present() -> None:
    """The pyxform corpus is where the tests expect it (79 spreadsheets)."""
    assert len(SPREADSHEETS) >= 79


@pytest.mark.parametrize("path", SPREADSHEETS, ids=[p.name for p in SPREADSHEETS])
def test_every_corpus_spreadsheet_loads_or_is_refused_clearly(path: Path) -> None:
    """Each real spreadsheet either becomes a flow, or a FormError that says what and where."""
    try:
        flow = load_flow(path.read_bytes(), path.name)
    except FormError as error:
        assert error.message.strip()
        assert str(error)
    else:
        assert any(item.asks for item in flow.items)
        assert flow.keyword


def test_known_broken_spreadsheet_is_refused_with_its_row() -> None:
    """pyxform's own complaint comes through with the sheet and row."""
    path = CORPUS / "bug_example_xls" / "calculate_without_calculation.xls"
    with pytest.raises(FormError) as refused:
        load_flow(path.read_bytes(), path.name)
    assert refused.value.row == 34
    assert "sheet 'survey', row 34" in str(refused.value)


def test_built_in_flows_load_with_thai_and_english() -> None:
    """The shipped forms load, with their keyword and both languages on every question."""
    profile = load_flow((ROOT / "flows/profile.md").read_bytes(), "profile.md")
    livelihood = load_flow(
        (ROOT / "flows/livelihood.md").read_bytes(),
        "livelihood.md",
        profile_fields={item.name for item in profile.items},
    )
    assert livelihood.keyword == "สำรวจ"
    assert livelihood.version == "1"
    for flow in (profile, livelihood):
        for item in flow.items:
            if item.kind is not Kind.CALCULATE:
                assert item.label.keys() >= {"th", "en"}, item.name
            for choice in item.choices:
                assert choice.label.keys() >= {"th", "en"}, (item.name, choice.name)


TYPES = """
| survey |
|        | type                 | name  | label::Thai (th) | label::English (en) | relevant     | constraint | required | calculation | score_group |
|        | text                 | t     | ข้อความ           | Text                |              |            | yes      |             | c1          |
|        | begin_group          | g     | กลุ่ม              | Group               | ${t} != 'x'  |            |          |             |             |
|        | integer              | i     | จำนวน            | Number              |              | . > 0      |          |             |             |
|        | end_group            |       |                  |                     |              |            |          |             |             |
|        | calculate            | c     |                  |                     |              |            |          | ${i} * 2    |             |
| settings |
|          | form_id | version | default_language |
|          | demo    | 7       | Thai (th)        |
"""


def test_groups_fold_their_condition_into_each_question() -> None:
    """A group's relevant applies to the questions inside it; extra columns are kept."""
    flow = load_text(TYPES)
    assert [item.kind for item in flow.items] == [Kind.TEXT, Kind.INTEGER, Kind.CALCULATE]
    assert flow.keyword == "demo"  # keyword defaults to form_id
    inner = flow.item("i")
    assert [c.source for c in inner.relevant] == ["${t} != 'x'"]
    assert inner.section == {"th": "กลุ่ม", "en": "Group"}
    assert flow.item("t").extra["score_group"] == "c1"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("| geopoint | where | ที่ไหน | | |", "row 2: question type 'geopoint' is not supported"),
        ("| integer | age | อายุ | . > | |", "row 2: column 'constraint'"),
        ("| integer | age | อายุ | pulldata('a','b','c','d') > 1 | |", "pulldata"),
        (
            "| integer | age | อายุ | ${nobody} > 1 | |",
            "row 2: On the 'survey' sheet, the 'constraint' value is invalid",
        ),
        ("| text | name | ชื่อ | | yes |", None),
    ],
)
def test_unsupported_things_are_refused_at_load_with_the_row(
    row: str, expected: str | None
) -> None:
    """What the chat cannot honour is refused now, pointing at the row, not later mid-chat."""
    form = f"""
| survey |
|        | type | name | label | constraint | required |
|        {row}
"""
    if expected is None:
        assert load_text(form).item("name").required is not None
        return
    with pytest.raises(FormError) as refused:
        load_text(form)
    assert expected in str(refused.value)


def test_profile_fields_are_read_with_profile_and_checked_at_import() -> None:
    """A form reads the profile with profile('group'); a field the profile lacks is refused."""
    form = """
| survey |
|        | type      | name  | label | relevant              | calculation      |
|        | calculate | group |       |                       | profile('{field}') |
|        | integer   | n     | N     | ${{group}} = 'carriage' |                  |
"""
    assert load_text(form.format(field="group"), profile_fields={"group"}).item("n").relevant
    with pytest.raises(FormError, match=r"row 2: .*profile\('grop'\)"):
        load_text(form.format(field="grop"), profile_fields={"group", "municipality"})


def test_a_file_that_is_not_a_form_is_refused() -> None:
    """Garbage bytes give a FormError, not a crash."""
    with pytest.raises(FormError):
        load_flow(b"\x00\x01 not a spreadsheet", "form.xlsx")
    with pytest.raises(FormError):
        load_flow(b"hello", "form.pdf")


def test_a_name_used_twice_is_refused() -> None:
    """Two questions with one name (in different groups) would loop forever: refused at load."""
    form = """
| survey |
|        | type        | name | label |
|        | begin_group | g1   | G1    |
|        | integer     | q    | Q     |
|        | end_group   |      |       |
|        | begin_group | g2   | G2    |
|        | text        | q    | Q     |
|        | end_group   |      |       |
"""
    with pytest.raises(FormError, match="used twice"):
        load_text(form)
