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

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from survey_flows.codebook import Variable

#: What Excel (and LibreOffice, Google Sheets) may run as a formula when a cell starts with it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A text that is only a number ("-5", "+66 81"): Excel reads it as a number, never a formula.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
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

    def header(self, names: Sequence[str]) -> None:
        """The column names (once, first)."""
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

    def header(self, names: Sequence[str]) -> None:
        """The column names."""
        self._writer.writerow(names)

    def row(self, values: Sequence[object]) -> None:
        """One row: datetimes as ISO 8601 with their offset, None empty."""
        self._writer.writerow([_csv_cell(value) for value in values])

    def close(self, variables: Sequence[Variable], reliability: Sequence[Sequence[object]]) -> None:
        """Nothing more: the codebook and reliability go in files of their own."""


class XlsxRows:
    """An XLSX workbook written as it goes (openpyxl's write-only mode): the data sheet with a
    frozen, bold header, then the codebook sheet."""

    def __init__(self, file: IO[bytes]):
        self._file = file
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("data")
        self._sheet.freeze_panes = "A2"
        self._bold = Font(bold=True)

    def header(self, names: Sequence[str]) -> None:
        """The column names, bold."""
        self._sheet.append([self._bold_cell(self._sheet, name) for name in names])

    def row(self, values: Sequence[object]) -> None:
        """One row of typed cells: numbers, dates (without offset: Excel has none), text."""
        self._sheet.append([self._cell(self._sheet, value) for value in values])

    def close(self, variables: Sequence[Variable], reliability: Sequence[Sequence[object]]) -> None:
        """Add the codebook sheet (and the reliability one, for a scored form), and write the
        workbook."""
        self._sheet_of("codebook", [CODEBOOK_COLUMNS, *codebook_rows(variables)])
        if reliability:
            self._sheet_of("reliability", reliability)
        self._book.save(self._file)

    def _sheet_of(self, title: str, rows: Iterable[Sequence[object]]) -> None:
        sheet = self._book.create_sheet(title)
        sheet.freeze_panes = "A2"
        for index, line in enumerate(rows):
            if index == 0:
                sheet.append([self._bold_cell(sheet, str(name)) for name in line])
            else:
                sheet.append([self._cell(sheet, cell) for cell in line])

    @staticmethod
    def _cell(sheet, value: object) -> object:
        """A value as its cell: a text starting with "=" stored as text, which openpyxl would
        otherwise store as a formula for Excel to run (shown as typed, no ' needed)."""
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)  # local time as shown; Excel dates have no zone
        if isinstance(value, dict | list):
            return str(value)
        if isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
        return value

    def _bold_cell(self, sheet, value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = self._bold
        return cell


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
