"""CSV lines of rows given as columns, byte for byte what ``csv.writer(stream,
lineterminator="\\r\\n")`` writes (the export's dialect: comma, double quote, quotes
doubled, minimal quoting), without csv.writer's work per cell.

The export (``bots.cli.tickets.write_csv``) renders a batch of tickets column by column;
most columns of a batch need no quotes at all (times, names, numbers), so each column is
searched once, as one string, for the four characters that make csv.writer quote a cell,
and only a column where one is found is quoted cell by cell. A row is then one
``",".join`` (issue 11: csv.writer's writerows was the export's largest cost).

Only the export's dialect is reproduced; anything else must use csv.writer. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def needs_quotes(text: str) -> bool:
    """Whether csv.writer (QUOTE_MINIMAL, no escapechar, lineterminator "\\r\\n") quotes
    ``text``: it holds the delimiter, the quote character or a character of the line
    terminator (tests/test_csv_lines.py checks every code point against csv.writer).
    Four searches of the string in C: 75-95x faster than the regex [,"\\r\\n] on a column
    of 250 cells joined (~0.5 µs against ~40 µs)."""
    return "," in text or '"' in text or "\n" in text or "\r" in text


def lines(columns: Sequence[Sequence[Any]]) -> str:
    """The CSV lines, each ending in "\\r\\n", of the rows whose cells are ``columns``
    (all of one length, at least two of them: csv.writer quotes a row of one empty cell
    as ``""``, which this does not). None is written as nothing and other non-text cells
    as ``str()`` gives them (csv.writer writes a float's repr, which is its str)."""
    if not columns or not columns[0]:
        return ""
    if len(columns) < 2:
        raise ValueError("a row of one cell: use csv.writer")
    return joined([_texts(column) for column in columns])


def joined(columns: Sequence[Sequence[str]]) -> str:
    """The CSV lines of columns whose cells are already written as csv.writer writes
    them (``quote``d where they must be): one ``",".join`` per row."""
    if not columns or not columns[0]:
        return ""
    return "\r\n".join(map(",".join, zip(*columns, strict=True))) + "\r\n"


def _texts(column: Sequence[Any]) -> Sequence[str]:
    try:
        joined = "\0".join(column)
    except TypeError:  # None or a number among the texts
        column = ["" if value is None else str(value) for value in column]
        joined = "\0".join(column)
    if not needs_quotes(joined):
        return column
    return quoted(column)


def quoted(column: Sequence[str | None]) -> list[str]:
    """``quote`` of each text of a column (None: nothing), without a call per cell."""
    return [
        ""
        if text is None
        else '"' + text.replace('"', '""') + '"'
        if "," in text or '"' in text or "\n" in text or "\r" in text
        else text
        for text in column
    ]


def quote(text: str) -> str:
    """``text`` as csv.writer writes it as a cell: in quotes (inner quotes doubled) when
    it holds a comma, a quote or a line break."""
    if not needs_quotes(text):
        return text
    return '"' + text.replace('"', '""') + '"'
