"""Tables to files: CSV (UTF-8 with a BOM, so Excel opens it) and XLSX (openpyxl).

A table is a header row and data rows of strings or numbers, already localized by the
caller (the CLI's ``baoxiu stats``, the console's statistics page). Every text cell
that a spreadsheet would read as a formula (=, +, -, @, tab, CR first) gets a leading
apostrophe, as the ticket CSV export does. This module knows nothing of tickets.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook

__all__ = ["FORMULA_START", "Cell", "csv_bytes", "safe", "write_table", "xlsx_bytes"]

Cell = str | int | float | None
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(cell: Cell) -> Cell:
    """``cell`` as a spreadsheet must show it: text that starts like a formula is
    quoted; numbers stay numbers (a negative number is not a formula)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return f"'{cell}"
    return cell


def csv_bytes(rows: Sequence[Sequence[Cell]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if c is None else safe(c) for c in row])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def xlsx_bytes(rows: Sequence[Sequence[Cell]], title: str = "baoxiu") -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "baoxiu")
    for row in rows:
        # A text cell is written as a string even when it starts with '=': openpyxl
        # would otherwise store it as a formula; safe() also quotes it for the reader.
        sheet.append([safe(c) for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_table(
    path: Path, rows: Sequence[Sequence[Cell]], *, xlsx: bool, title: str = "baoxiu"
) -> None:
    """Write ``rows`` to ``path`` as XLSX or as CSV."""
    data = xlsx_bytes(rows, title) if xlsx else csv_bytes(rows)
    path.write_bytes(data)
