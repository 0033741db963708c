"""SPSS .sav files of an export, written with pyreadstat: Thai variable labels, a value label for
every choice and Likert code, measure levels, and missing values declared.

SPSS codes choices as numbers: a choice list whose names are all whole numbers (a 1–5 scale)
keeps them, any other is numbered 1, 2, … in form order, and the codebook says which is which.
An answer not given is the declared missing value -9 ("ไม่ได้ตอบ") in numeric columns, and
empty in text ones. pyreadstat writes from a data frame, so the rows are kept until the file is
written: the one format not written as it goes (bench/exports.py measures its memory).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy
import pandas
import pyreadstat

from bot.text_cut import GRAPHEME
from survey_flows.codebook import CHOICE, FLAG, NUMERIC, SCORE, Variable

#: The code of an answer not given, declared missing in every numeric column.
NOT_ANSWERED = -9
NOT_ANSWERED_LABEL = "ไม่ได้ตอบ (not answered)"
#: SPSS keeps at most this many bytes of a variable's or a value's label.
MOST_LABEL_BYTES = 255
#: What an SPSS variable name may hold (and at most 64 bytes, starting with a letter).
NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.@#$]")
#: The labels of the meta columns after the answers (bot/exports.py's META_COLUMNS).
META_LABELS = {
    "_uuid": "รหัสชุดคำตอบ (submission id)",
    "_submission_time": "เวลาที่ส่ง (submitted at)",
    "_started_at": "เวลาที่เริ่ม (started at)",
    "__version__": "รุ่นของแบบสอบถาม (form version)",
    "_respondent": "รหัสแทนตัวผู้ตอบ (pseudonym)",
    "_group": "กลุ่ม (group)",
    "_municipality": "เทศบาล (municipality)",
    "_channel": "ช่องทาง (channel)",
    "_round": "รอบ (round)",
    "_entered_by": "ผู้บันทึก (entered by)",
}
MEASURES = {CHOICE: "nominal", FLAG: "nominal", NUMERIC: "scale", SCORE: "scale"}


def spss_codes(variable: Variable) -> dict[str, int]:
    """A choice column's stored values as SPSS numbers."""
    values = [code.value for code in variable.codes]
    if values and all(value.lstrip("-").isdigit() for value in values):
        return {value: int(value) for value in values}
    return {value: number for number, value in enumerate(values, start=1)}


def spss_names(names: Sequence[str]) -> list[str]:
    """Each column's SPSS name: only the characters SPSS allows, a letter first, 64 bytes at
    most, and none twice ("customers/thai" becomes "customers_thai", "_uuid" "uuid")."""
    made: list[str] = []
    for name in names:
        base = NAME_CHARACTERS.sub("_", name).strip("_") or "v"
        if not base[0].isalpha():
            base = "v" + base
        base = base[:64]
        candidate, n = base, 1
        while candidate.lower() in {m.lower() for m in made}:
            n += 1
            candidate = f"{base[: 64 - len(str(n)) - 1]}_{n}"
        made.append(candidate)
    return made


def label_cut(text: str) -> str:
    """A label cut to SPSS's bytes between graphemes, so no Thai letter loses its marks."""
    kept, size = [], 0
    for grapheme in GRAPHEME.findall(text):
        size += len(grapheme.encode())
        if size > MOST_LABEL_BYTES:
            break
        kept.append(grapheme)
    return "".join(kept)


class SavRows:
    """Collects an export's rows, and writes the .sav file on close."""

    def __init__(self, path: Path):
        self._path = path
        self._names: list[str] = []
        #: The values by column: kept so, they are turned into the frame's columns one by one.
        self._columns: list[list[object]] = []

    def header(self, names: Sequence[str]) -> None:
        """The column names (the codebook's and the meta columns)."""
        self._names = list(names)
        self._columns = [[] for _ in names]

    def row(self, values: Sequence[object]) -> None:
        """One row, kept until close."""
        for column, value in zip(self._columns, values, strict=True):
            column.append(value)

    def close(self, variables: Sequence[Variable], reliability: Sequence[Sequence[object]]) -> None:
        """Write the file, with the codebook's labels, codes, measures and missing values."""
        known = {variable.name: variable for variable in variables}
        names = spss_names(self._names)
        columns: dict[str, list[object]] = {}
        labels: dict[str, str] = {}
        value_labels: dict[str, dict[float, str]] = {}
        measures: dict[str, str] = {}
        missing: dict[str, list[float]] = {}
        for index, (original, name) in enumerate(zip(self._names, names, strict=True)):
            cells, self._columns[index] = self._columns[index], []
            variable = known.get(original)
            kind = variable.type if variable else _meta_kind(cells)
            labels[name] = label_cut(_label(variable, original))
            if kind in (CHOICE, FLAG):
                codes = {"0": 0, "1": 1} if kind == FLAG else spss_codes(variable)
                columns[name] = numpy.array(
                    [
                        NOT_ANSWERED if cell is None else codes.get(str(cell), NOT_ANSWERED)
                        for cell in cells
                    ]
                )
                value_labels[name] = {
                    float(codes[code.value]): label_cut(f"{code.label_th} ({code.label_en})")
                    for code in variable.codes
                    if code.value in codes
                }
                value_labels[name][float(NOT_ANSWERED)] = NOT_ANSWERED_LABEL
                missing[name] = [NOT_ANSWERED]
            elif kind in (NUMERIC, SCORE):
                numbers = [NOT_ANSWERED if cell is None else float(cell) for cell in cells]
                columns[name] = numpy.array(numbers)
                value_labels[name] = {float(NOT_ANSWERED): NOT_ANSWERED_LABEL}
                missing[name] = [NOT_ANSWERED]
            elif kind == "datetime":
                columns[name] = [cell.replace(tzinfo=None) if cell else None for cell in cells]
            else:
                columns[name] = ["" if cell is None else str(cell) for cell in cells]
            measures[name] = MEASURES.get(kind, "nominal")
        frame = pandas.DataFrame(columns)
        pyreadstat.write_sav(
            frame,
            self._path,
            column_labels=labels,
            variable_value_labels=value_labels,
            variable_measure=measures,
            missing_ranges=missing,
        )


def _label(variable: Variable | None, name: str) -> str:
    """A column's label: its Thai question and the English after it."""
    if variable is None:
        return META_LABELS.get(name, name)
    english = f" ({variable.label_en})" if variable.label_en else ""
    return f"{variable.label_th or name}{english}"


def _meta_kind(cells: list[object]) -> str:
    """A meta column's kind, from its values: times, whole numbers (the round), or text."""
    present = [cell for cell in cells if cell is not None]
    if present and all(isinstance(cell, datetime) for cell in present):
        return "datetime"
    if present and all(isinstance(cell, int) for cell in present):
        return NUMERIC
    return "text"
