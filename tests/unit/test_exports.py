"""The one export helper: formula injection is neutralised in CSV and XLSX; typed values stay typed."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from courses.exports import Report, export, neutralise, to_csv, to_xlsx

DANGEROUS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")']


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_starts_are_quoted(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["김민준", "1반", "a=b", "", 0, -5, 3.5, True, None, date(2026, 1, 2)])
def test_harmless_values_are_unchanged(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("text", DANGEROUS)
def test_csv_cells_cannot_be_formulas(text):
    data = to_csv(["이름", "점수"], [[text, -3]])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1] == ["'" + text, "-3"]  # the negative number stays a number


@pytest.mark.parametrize("text", DANGEROUS)
def test_xlsx_cells_are_strings_not_formulas(text):
    wb = load_workbook(io.BytesIO(to_xlsx(["=이름"], [[text, 7, datetime(2026, 3, 1, 9, 0)]], "=출석")))
    ws = wb.active
    assert ws["A1"].value == "'=이름" and ws["A1"].data_type == "s"
    assert ws["A2"].data_type == "s" and ws["A2"].value.startswith("'")
    assert ws["B2"].value == 7 and ws["B2"].data_type == "n"
    assert ws["C2"].is_date


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        export(Report("t", ["a"], []), ["a"], "pdf", "t")


def test_the_title_block_comes_first_and_is_neutralised_too() -> None:
    from tests.export_support import split_table

    heading = ["출석 현황", "강좌: =HYPERLINK()", "내보낸 날짜: 2026-12-02 09:00"]
    data = to_csv(["이름"], [["김민준"]], heading)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    got_heading, header, body = split_table(rows)  # type: ignore[arg-type]
    assert got_heading == heading and header == ["이름"] and body == [["김민준"]]
    wb = load_workbook(io.BytesIO(to_xlsx(["이름"], [["=1+1"]], "시트", ["=제목"])))
    ws = wb.active
    assert ws["A1"].value == "'=제목" and ws["A1"].font.bold  # a title never runs as a formula
    assert ws["A3"].value == "이름" and ws["A3"].font.bold and ws["A4"].value == "'=1+1"
