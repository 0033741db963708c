"""Writers of an export's rows: CSV for Excel (UTF-8 with BOM, formulas neutralised) and XLSX
(typed cells, a frozen header, the codebook as a further sheet, text never stored as a formula),
each a row at a time.

Both take rows of Python values: numbers stay numbers, datetimes are dates, None is empty.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO, Protocol

import xlsxwriter

from survey_flows.codebook import CHOICE, FLAG, NUMERIC, SCORE, Variable

#: What Excel (and LibreOffice, Google Sheets) may run as a formula when a cell starts with it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A text that is only a number ("-5", "+66 81"): Excel reads it as a number, never a formula.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
#: Column types whose cells are only choice codes (names from the form) and numbers.
SAFE = frozenset({CHOICE, FLAG, NUMERIC, SCORE})
#: The codebook's columns, in the CSV and in its sheet.
CODEBOOK_COLUMNS = [
    "name",
    "label_th",
    "label_en",
    "type",
    "codes",
    "characteristic",
    "subfeature",
    "reverse",
    "versions",
]


class RowWriter(Protocol):
    """Where an export's rows go, a row at a time."""

    def header(self, names: Sequence[str], variables: Sequence[Variable]) -> None:
        """The column names (once, first), and the codebook describing them."""
        ...

    def row(self, values: Sequence[object]) -> None:
        """One row of values."""
        ...

    def close(self, variables: Sequence[Variable], reliability: Sequence[Sequence[object]]) -> None:
        """Finish the file (the XLSX adds its codebook and reliability sheets)."""
        ...


def neutralised(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with ' so it shows as typed;
    numbers and plain numeric text unchanged."""
    risky = isinstance(value, str) and value.startswith(FORMULA_START)
    return "'" + value if risky and not PLAIN_NUMBER.fullmatch(value) else value


class CsvRows:
    """CSV that Excel opens with Thai intact (UTF-8 with BOM) and no formula run."""

    def __init__(self, file: IO[str]):
        file.write("\ufeff")
        self._writer = csv.writer(file)
        #: The columns whose cells may be anything (typed text, times): the others hold codes
        #: and numbers, which the csv module writes as they are (None as empty).
        self._free: list[int] | None = None

    def header(self, names: Sequence[str], variables: Sequence[Variable] = ()) -> None:
        """The column names; the codebook tells which columns hold only codes and numbers."""
        self._writer.writerow(names)
        kinds = {variable.name: variable.type for variable in variables}
        if variables:
            self._free = [i for i, name in enumerate(names) if kinds.get(name) not in SAFE]

    def row(self, values: Sequence[object]) -> None:
        """One row: datetimes as ISO 8601 with their offset, None empty, formulas neutralised."""
        if self._free is None:
            self._writer.writerow([_csv_cell(value) for value in values])
            return
        cells = list(values)
        for index in self._free:
            cells[index] = _csv_cell(cells[index])
        self._writer.writerow(cells)

    def close(self, variables: Sequence[Variable], reliability: Sequence[Sequence[object]]) -> None:
        """Nothing more: the codebook and reliability go in files of their own."""


class XlsxRows:
    """An XLSX workbook written as it goes (XlsxWriter's constant-memory mode, twice as fast as
    openpyxl's write-only one: bench/README.md): the data sheet with a frozen, bold header, then
    the codebook and reliability sheets. Text is always text: "=…" is never made a formula."""

    def __init__(self, file: IO[bytes]):
        self._book = xlsxwriter.Workbook(
            file,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "default_date_format": "yyyy-mm-dd hh:mm:ss",
                "remove_timezone": True,  # local times as shown: Excel dates have no zone
            },
        )
        self._bold = self._book.add_format({"bold": True})
        self._sheet = self._sheet_named("data")
        self._row = 0

    def header(self, names: Sequence[str], variables: Sequence[Variable] = ()) -> None:
        """The column names, bold."""
        self._sheet.write_row(0, 0, names, self._bold)
        self._row = 1

    def row(self, values: Sequence[object]) -> None:
        """One row of typed cells: numbers, dates, text; nothing for None."""
        self._sheet.write_row(self._row, 0, [_xlsx_value(value) for value in values])
        self._row += 1

    def close(self, variables: Sequence[Variable], reliability: Sequence[Sequence[object]]) -> None:
        """Add the codebook sheet (and the reliability one, for a scored form), and write the
        workbook."""
        self._table("codebook", codebook_table(variables))
        if reliability:
            self._table("reliability", reliability)
        self._book.close()

    def _sheet_named(self, title: str):
        sheet = self._book.add_worksheet(title)
        sheet.freeze_panes(1, 0)
        return sheet

    def _table(self, title: str, rows: Iterable[Sequence[object]]) -> None:
        sheet = self._sheet_named(title)
        for index, line in enumerate(rows):
            cells = [str(name) for name in line] if index == 0 else map(_xlsx_value, line)
            sheet.write_row(index, 0, list(cells), self._bold if index == 0 else None)


def _xlsx_value(value: object) -> object:
    """A value as XlsxWriter takes it: a dict or list as its text."""
    return str(value) if isinstance(value, dict | list) else value


def codebook_table(variables: Iterable[Variable]) -> list[list[object]]:
    """The codebook as a table, its header first: the CSV's and the XLSX sheet's."""
    return [list(CODEBOOK_COLUMNS), *codebook_rows(variables)]


def codebook_rows(variables: Iterable[Variable]) -> Iterable[list[object]]:
    """The codebook, a row per column of the export (codes as "value=label th / label en
    [score]; …")."""
    for variable in variables:
        codes = "; ".join(
            f"{code.value}={code.label_th} / {code.label_en}"
            + (f" [{code.score:g}]" if code.score is not None else "")
            for code in variable.codes
        )
        yield [
            variable.name,
            variable.label_th,
            variable.label_en,
            variable.type,
            codes,
            variable.characteristic,
            variable.subfeature,
            int(variable.reverse),
            " ".join(variable.versions),
        ]


def write_table_csv(file: IO[str], table: Iterable[Sequence[object]]) -> None:
    """A table (its header first) as a CSV of its own: the codebook, the reliability."""
    rows = CsvRows(file)
    for index, line in enumerate(table):
        (rows.header if index == 0 else rows.row)(line)


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return neutralised(value)
