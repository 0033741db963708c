"""Open data: aggregate score tables with no personal data, small cells withheld so that none can
be recovered from a margin, and a Data Package that the frictionless library validates, on
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import frictionless
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from storage.models import AuditEntry, Respondent, Submission, SurveyVersion
from survey_flows.disclosure import LEAST, suppressed
from tests.console_user import ConsoleUser, add_account

#: (group, municipality, how many): the first cells are large, the vendors' in Khelang small.
PEOPLE = (
    ("carriage", "nakhon", 7),
    ("carriage", "khelang", 6),
    ("kadkongta", "nakhon", 8),
    ("kadkongta", "khelang", 2),
)


def read(path: Path) -> list[dict[str, str]]:
    """A table as rows."""
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_open_data_withholds_small_cells_and_validates(app, clock, tmp_path) -> None:
    """Counts and mean scores by group × municipality × round; the two vendors in Khelang are
    withheld, and so is a second cell in each of their lines, so no margin gives them away; no
    pseudonym, id or platform id anywhere; datapackage.json is a valid Data Package."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        version = session.scalars(
            select(SurveyVersion).where(SurveyVersion.form_id == "active_citizen")
        ).one()
        n = 0
        for group, municipality, count in PEOPLE:
            for _ in range(count):
                n += 1
                person = Respondent(
                    channel="line",
                    channel_user_id=f"U{n:032d}",
                    profile={"group": group, "municipality": municipality},
                    created_at=clock.now,
                )
                session.add(person)
                session.flush()
                session.add(
                    Submission(
                        respondent_id=person.id,
                        survey_version_id=version.id,
                        channel="line",
                        started_at=clock.now,
                        completed_at=clock.now,
                        scores={"characteristics": {"c1": 2 + n % 3}, "subfeatures": {}},
                    )
                )
    out = tmp_path / "open"
    result = app.test_cli_runner().invoke(args=["export-open-data", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cross = read(out / "scores_by_group_municipality_round.csv")
    by_cell = {(r["group"], r["municipality"]): r for r in cross}
    assert by_cell[("kadkongta", "khelang")]["respondents"] == ""
    assert by_cell[("kadkongta", "khelang")]["mean_c1"] == ""
    assert by_cell[("kadkongta", "khelang")]["suppressed"] == "True"
    # the vendors' margin (10) and Khelang's (8) are published: each line needs a second cell
    withheld = {key for key, row in by_cell.items() if row["suppressed"] == "True"}
    assert len(withheld) >= 2
    for line in (
        [k for k in by_cell if k[0] == "kadkongta"],
        [k for k in by_cell if k[1] == "khelang"],
    ):
        assert len([k for k in line if k in withheld]) != 1
    published = [int(r["respondents"]) for r in cross if r["respondents"]]
    assert all(count >= LEAST for count in published)
    [total] = read(out / "scores_by_round.csv")
    assert total["respondents"] == "23" and float(total["mean_c1"]) > 0
    everything = "".join(path.read_text(encoding="utf-8") for path in out.iterdir())
    assert "U" + "0" * 31 not in everything and "line" not in everything
    report = frictionless.validate(out / "datapackage.json")
    assert report.valid, report.flatten(["type", "note"])
    with runtime.db() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "open_data.written")
        ).one()
    assert entry.detail["tables"]["scores_by_round"] == 1
    add_account(app, "research@example.org", "researcher")
    researcher = ConsoleUser(app)
    researcher.sign_in("research@example.org")
    researcher.get("/console/exports")
    got = researcher.post("/console/exports/open-data")
    assert got.status_code == 200 and got.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.data)) as zipped:
        assert "open-data/datapackage.json" in zipped.namelist()
        assert (
            zipped.read("open-data/scores_by_round.csv")
            == (out / "scores_by_round.csv").read_bytes()
        )


@given(
    st.dictionaries(st.tuples(st.integers(0, 3), st.integers(0, 3)), st.integers(0, 12), min_size=1)
)
def test_no_line_of_a_table_keeps_exactly_one_cell_withheld(cells) -> None:
    """Whatever the counts of a 4 × 4 table published with its row and column totals and its
    grand total: every cell under five is withheld, and no total with its cells has exactly one
    of them withheld, so none can be worked out by subtraction."""
    counts = dict(cells)
    for r in range(4):
        counts[("row", r)] = sum(n for (row, _), n in cells.items() if row == r)
    for c in range(4):
        counts[("column", c)] = sum(n for (_, column), n in cells.items() if column == c)
    counts["all"] = sum(cells.values())
    lines = [[*((r, c) for c in range(4)), ("row", r)] for r in range(4)]
    lines += [[*((r, c) for r in range(4)), ("column", c)] for c in range(4)]
    lines += [[*(("row", r) for r in range(4)), "all"], [*(("column", c) for c in range(4)), "all"]]
    hidden = suppressed(counts, lines)
    assert {cell for cell, n in counts.items() if 0 < n < LEAST} <= hidden
    for line in lines:
        assert len([cell for cell in line if cell in hidden]) != 1
    assert all(counts[cell] > 0 for cell in hidden)
