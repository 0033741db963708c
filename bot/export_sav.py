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
from array import array
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy
import pandas
import pyreadstat

from bot.text_cut import GRAPHEME
from survey_flows.codebook import CHOICE, FLAG, NUMERIC, SCORE, TEXT, Variable

#: The code of an answer not given, declared missing in every numeric column.
NOT_ANSWERED = -9
NOT_ANSWERED_LABEL = "ไม่ได้ตอบ (not answered)"
#: SPSS keeps at most this many bytes of a variable's or a value's label.
MOST_LABEL_BYTES = 255
#: What an SPSS variable name may hold (and at most 64 bytes, starting with a letter).
NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.@#$]")
MEASURES = {CHOICE: "nominal", FLAG: "nominal", NUMERIC: "scale", SCORE: "scale"}
#: The kinds of column kept as numbers.
CODED = (CHOICE, FLAG, NUMERIC, SCORE)


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
    """Collects an export's rows, coded as they come (a choice's code, a number, as 8 bytes in
    an array; texts and times as they are), and writes the .sav file on close."""

    def __init__(self, path: Path):
        self._path = path
        self._names: list[str] = []
        self._kinds: list[str] = []
        self._variables: list[Variable | None] = []
        self._codes: list[dict[str, int]] = []
        self._columns: list[array | list[object]] = []

    def header(self, names: Sequence[str], variables: Sequence[Variable]) -> None:
        """The column names, and the codebook that says how each is coded."""
        known = {variable.name: variable for variable in variables}
        self._names = list(names)
        self._variables = [known.get(name) for name in names]
        self._kinds = [variable.type if variable else TEXT for variable in self._variables]
        self._codes = [
            {"0": 0, "1": 1} if kind == FLAG else spss_codes(variable) if kind == CHOICE else {}
            for kind, variable in zip(self._kinds, self._variables, strict=True)
        ]
        self._columns = [array("d") if kind in CODED else [] for kind in self._kinds]

    def row(self, values: Sequence[object]) -> None:
        """One row, coded into its columns."""
        for index, value in enumerate(values):
            kind, column = self._kinds[index], self._columns[index]
            if kind in (CHOICE, FLAG):
                code = NOT_ANSWERED if value is None else self._codes[index].get(str(value))
                column.append(NOT_ANSWERED if code is None else code)
            elif kind in (NUMERIC, SCORE):
                column.append(NOT_ANSWERED if value is None else float(value))
            else:
                column.append(value)

    def close(self, variables: Sequence[Variable], reliability: Sequence[Sequence[object]]) -> None:
        """Write the file, with the codebook's labels, codes, measures and missing values."""
        names = spss_names(self._names)
        columns: dict[str, object] = {}
        labels: dict[str, str] = {}
        value_labels: dict[str, dict[float, str]] = {}
        measures: dict[str, str] = {}
        missing: dict[str, list[float]] = {}
        for index, name in enumerate(names):
            kind, variable = self._kinds[index], self._variables[index]
            cells, self._columns[index] = self._columns[index], []
            labels[name] = label_cut(_label(variable, self._names[index]))
            if kind in CODED:
                columns[name] = numpy.frombuffer(cells, dtype=numpy.float64)
                value_labels[name] = {float(NOT_ANSWERED): NOT_ANSWERED_LABEL}
                missing[name] = [NOT_ANSWERED]
                for code in variable.codes if kind in (CHOICE, FLAG) else ():
                    if code.value in self._codes[index]:
                        value = float(self._codes[index][code.value])
                        value_labels[name][value] = label_cut(f"{code.label_th} ({code.label_en})")
            elif _all_times(cells):  # a time kept as such (a date answer is stored as its text)
                kind = "datetime"
                columns[name] = [cell.replace(tzinfo=None) if cell else None for cell in cells]
            else:
                columns[name] = ["" if cell is None else str(cell) for cell in cells]
            measures[name] = MEASURES.get(kind, "nominal")
        frame = pandas.DataFrame(columns, copy=False)  # the columns as they are, not copied
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
        return name
    english = f" ({variable.label_en})" if variable.label_en else ""
    return f"{variable.label_th or name}{english}"


def _all_times(cells: list[object]) -> bool:
    """Whether every value given is a time (the meta columns' times, not a date answer)."""
    present = [cell for cell in cells if cell is not None]
    return bool(present) and all(isinstance(cell, datetime) for cell in present)
