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
from dataclasses import dataclass, field
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
    # What the table is about, named in the title rows: (label msgid, value), e.g. ("강좌", "생활 안전 교실").
    context: list[tuple[str, object]] = field(default_factory=list)


def neutralise(value: object) -> object:
    """A cell value a spreadsheet will show as text, never run as a formula."""
    if isinstance(value, bool | int | float | date | datetime) or value is None:
        return value
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def _rows(
    headers: Sequence[str], rows: Sequence[Sequence[object]], heading: Sequence[str] = ()
) -> list[list[object]]:
    """The title rows (if any) and a blank row, then the header row and the data."""
    top: list[list[object]] = [[neutralise(line)] for line in heading]
    if top:
        top.append([])
    return [*top, [neutralise(h) for h in headers], *([neutralise(v) for v in row] for row in rows)]


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[object]], heading: Sequence[str] = ()) -> bytes:
    """CSV with a BOM so Korean Excel opens it as UTF-8; heading lines come first, one per row."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in _rows(headers, rows, heading):
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(
    headers: Sequence[str], rows: Sequence[Sequence[object]], sheet_title: str, heading: Sequence[str] = ()
) -> bytes:
    """An XLSX workbook with one sheet; text cells are strings, never formulas; heading lines first."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _sheet_title(sheet_title)
    header_row = len(heading) + (2 if heading else 1)
    for r, row in enumerate(_rows(headers, rows, heading), start=1):
        for c, value in enumerate(row, start=1):
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.replace(tzinfo=None)  # Excel has no time zones; callers pass local times
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = TYPE_STRING
            if r == 1 and heading or r == header_row:
                cell.font = Font(bold=True)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    cleaned = "".join(ch for ch in title if ch not in "[]:*?/\\").strip("'") or "Sheet"
    return cleaned[:31]


def export(
    report: Report, headers: Sequence[str], fmt: str, title: str, heading: Sequence[str] = ()
) -> tuple[bytes, str, str]:
    """The report in a format: (body, mimetype, file extension). ValueError for an unknown format.

    ``heading`` is the title block already in the reader's language: the title, what the table is about
    (course, school, period) and when it was exported.
    """
    if fmt == "csv":
        return to_csv(headers, report.rows, heading), CSV_MIME, "csv"
    if fmt == "xlsx":
        return to_xlsx(headers, report.rows, title, heading), XLSX_MIME, "xlsx"
    raise ValueError(f"unknown export format {fmt!r}")
