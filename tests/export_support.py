"""Reading the project's exports back: the title block, the header row and the data rows."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook


def split_table(rows: list[list[object]]) -> tuple[list[str], list[object], list[list[object]]]:
    """(title lines, header, data): the title block ends at the first empty row."""
    blank = next(i for i, row in enumerate(rows) if not any(v not in (None, "") for v in row))
    heading = [str(row[0]) for row in rows[:blank]]
    return heading, rows[blank + 1], rows[blank + 2 :]


def read_csv(data: bytes) -> tuple[list[str], list[object], list[list[object]]]:
    """An exported CSV (UTF-8 with BOM) as (title lines, header, rows)."""
    assert data.startswith(b"\xef\xbb\xbf"), "CSV exports start with a UTF-8 BOM"
    return split_table([list(r) for r in csv.reader(io.StringIO(data.decode("utf-8-sig")))])


def read_xlsx(data: bytes) -> tuple[list[str], list[object], list[list[object]]]:
    """An exported XLSX's first sheet as (title lines, header, rows)."""
    ws = load_workbook(io.BytesIO(data)).active
    assert ws is not None
    return split_table([list(r) for r in ws.iter_rows(values_only=True)])
