"""The one export helper: a titled table to CSV (UTF-8 with BOM, which Korean Excel opens) or XLSX.

Every export goes through here, so every export is safe against spreadsheet formula injection (OWASP's
CSV-injection guidance): a text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading apostrophe, and XLSX text cells are written as strings, never as formulas. Numbers,
dates and booleans stay typed values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Report:
    """A titled table: column headers (msgids) and rows of plain values."""

    title: str
    columns: list[str]
    rows: list[list[object]]


def neutralise(value: object) -> object:
    """A cell value a spreadsheet will show as text, never run as a formula."""
    if isinstance(value, bool | int | float | date | datetime) or value is None:
        return value
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def _rows(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[list[object]]:
    return [[neutralise(h) for h in headers], *([neutralise(v) for v in row] for row in rows)]


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """CSV with a BOM so Korean Excel opens it as UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in _rows(headers, rows):
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(headers: Sequence[str], rows: Sequence[Sequence[object]], sheet_title: str) -> bytes:
    """An XLSX workbook with one sheet; text cells are strings, never formulas."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _sheet_title(sheet_title)
    for r, row in enumerate(_rows(headers, rows), start=1):
        for c, value in enumerate(row, start=1):
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.replace(tzinfo=None)  # Excel has no time zones; callers pass local times
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = TYPE_STRING
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    cleaned = "".join(ch for ch in title if ch not in "[]:*?/\\").strip("'") or "Sheet"
    return cleaned[:31]


def export(report: Report, headers: Sequence[str], fmt: str, title: str) -> tuple[bytes, str, str]:
    """The report in a format: (body, mimetype, file extension). ValueError for an unknown format."""
    if fmt == "csv":
        return to_csv(headers, report.rows), CSV_MIME, "csv"
    if fmt == "xlsx":
        return to_xlsx(headers, report.rows, title), XLSX_MIME, "xlsx"
    raise ValueError(f"unknown export format {fmt!r}")
