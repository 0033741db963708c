"""Open data: aggregate tables of the scored surveys, with no personal data, and a Frictionless
Data Package that describes every field in Thai and English.

For each scored survey: how many respondents and their mean score per characteristic, by group ×
municipality × round, and the margins (by group × round, municipality × round, and round).
Cells of fewer than five are suppressed, and so are enough others that none can be recovered
from a margin by subtraction (survey_flows/disclosure.py). Only finished, real (not test)
submissions count.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from sqlalchemy.orm import Session

from bot.library import SurveyLibrary
from storage.export_rows import ExportFilter, submission_pages
from storage.surveys import latest_versions
from survey_flows.disclosure import LEAST, suppressed

#: The audit log's action for open data written.
OPEN_DATA = "open_data.written"
#: The tables, each with the columns that name its cells.
TABLES = {
    "scores_by_group_municipality_round": ("group", "municipality", "round"),
    "scores_by_group_round": ("group", "round"),
    "scores_by_municipality_round": ("municipality", "round"),
    "scores_by_round": ("round",),
}
#: How each column is described in the package (Thai / English).
DESCRIPTIONS = {
    "survey": ("แบบสอบถาม (รหัสฟอร์ม)", "The survey (its form id)"),
    "group": ("กลุ่มอาชีพ (รหัสตามแบบข้อมูลส่วนตัว)", "Group (its code in the profile form)"),
    "municipality": ("เทศบาล (รหัส)", "Municipality (its code)"),
    "round": ("รอบที่ตอบ 1, 2, …", "Round: 1 for a first assessment, 2 for a second, …"),
    "respondents": ("จำนวนผู้ตอบ", "Number of respondents"),
    "suppressed": (
        "ไม่เผยแพร่ตัวเลข เพราะผู้ตอบน้อยกว่า 5 คน หรือคำนวณย้อนได้จากผลรวม",
        "Figures withheld: fewer than 5 respondents, or recoverable from a total",
    ),
}


@dataclass
class _Cell:
    """The scores of one cell's respondents."""

    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    n: int = 0


def write_open_data(session: Session, library: SurveyLibrary, out: Path) -> dict[str, int]:
    """Write the tables and datapackage.json into `out`; return each table's published rows."""
    out.mkdir(parents=True, exist_ok=True)
    flows = [(version.form_id, library.flow(version)) for version in latest_versions(session)]
    scored = [(form_id, flow.scoring) for form_id, flow in flows if flow.scoring]
    characteristics = list(
        dict.fromkeys(c.id for _, scoring in scored for c in scoring.characteristics)
    )
    labels = {c.id: c.label for _, scoring in scored for c in scoring.characteristics}
    cells: dict[tuple, _Cell] = defaultdict(_Cell)
    for form_id, _ in scored:
        for row in (r for page in submission_pages(session, ExportFilter(form_id)) for r in page):
            found = (row.scores or {}).get("characteristics") or {}
            for table, columns in TABLES.items():
                values = {"group": row.group, "municipality": row.municipality, "round": row.round}
                cell = cells[(table, form_id, *(values[c] for c in columns))]
                cell.n += 1
                for characteristic, score in found.items():
                    cell.scores[characteristic].append(float(score))
    hidden = suppressed({key: cell.n for key, cell in cells.items()}, _lines(cells))
    published = {}
    for table, columns in TABLES.items():
        header = ["survey", *columns, "respondents", *(f"mean_{c}" for c in characteristics)]
        rows = []
        for key in sorted(k for k in cells if k[0] == table):
            cell, withheld = cells[key], key in hidden
            means = [
                "" if withheld or not cell.scores.get(c) else round(fmean(cell.scores[c]), 2)
                for c in characteristics
            ]
            rows.append([*key[1:], "" if withheld else cell.n, *means, withheld])
        with (out / f"{table}.csv").open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow([*header, "suppressed"])
            writer.writerows(rows)
        published[table] = len(rows)
    package = _package(characteristics, labels)
    (out / "datapackage.json").write_text(
        json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return published


def _lines(cells: dict[tuple, _Cell]) -> list[list[Hashable]]:
    """Each total with the cells that add up to it: a row of a table and its margin, the
    margins and the round's total."""
    lines: dict[tuple, list[Hashable]] = defaultdict(list)
    for key in cells:
        table, survey, *rest = key
        if table == "scores_by_group_municipality_round":
            group, municipality, round_ = rest
            for margin in (
                ("scores_by_group_round", survey, group, round_),
                ("scores_by_municipality_round", survey, municipality, round_),
            ):
                lines[margin].append(key)
        elif table in ("scores_by_group_round", "scores_by_municipality_round"):
            lines[("scores_by_round", survey, rest[-1], table)].append(key)
    return [
        [*members, total[:3] if total[0] == "scores_by_round" else total]
        for total, members in lines.items()
    ]


def _package(characteristics: list[str], labels: dict[str, dict[str, str]]) -> dict:
    """The Data Package: each table as a resource, each field titled and described."""

    def described(name: str, kind: str, thai: str, english: str) -> dict:
        return {"name": name, "type": kind, "title": english, "description": f"{thai} / {english}"}

    def fields(columns: tuple[str, ...]) -> list[dict]:
        made = [described("survey", "string", *DESCRIPTIONS["survey"])]
        for column in columns:
            kind = "integer" if column == "round" else "string"
            made.append(described(column, kind, *DESCRIPTIONS[column]))
        made.append(described("respondents", "integer", *DESCRIPTIONS["respondents"]))
        for c in characteristics:
            thai, english = labels[c].get("th", c), labels[c].get("en", c)
            made.append(
                described(
                    f"mean_{c}",
                    "number",
                    f"คะแนนเฉลี่ย 1–5 ด้าน{thai}",
                    f"Mean score 1–5: {english}",
                )
            )
        made.append(described("suppressed", "boolean", *DESCRIPTIONS["suppressed"]))
        return made

    return {
        "name": "lampang-active-citizenship",
        "title": "Lampang Active Citizenship assessment: scores by group, municipality and round",
        "description": (
            "คะแนนเฉลี่ยแบบประเมินความเป็นพลเมืองเข้มแข็งของผู้ประกอบอาชีพในลำปาง แยกตามกลุ่ม"
            " เทศบาล และรอบ ไม่มีข้อมูลส่วนบุคคล ช่องที่มีผู้ตอบน้อยกว่า "
            f"{LEAST} คนไม่เผยแพร่ / Mean Active Citizenship scores of Lampang's carriage"
            " drivers and market vendors by group, municipality and round; no personal data;"
            f" cells of fewer than {LEAST} respondents are withheld."
        ),
        "licenses": [
            {
                "name": "CC-BY-4.0",
                "path": "https://creativecommons.org/licenses/by/4.0/",
                "title": "Creative Commons Attribution 4.0",
            }
        ],
        "resources": [
            {
                "name": table.replace("_", "-"),
                "path": f"{table}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": fields(columns), "missingValues": [""]},
            }
            for table, columns in TABLES.items()
        ],
    }
