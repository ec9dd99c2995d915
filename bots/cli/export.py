"""The export's fast path: the CSV cells of a batch of stored ticket rows built by one
generator, one tuple per row, as they come from SQLite (``bots.cli.tickets``
``batch_formatter`` uses it; ``write_csv`` writes what it returns).

Why a generated generator expression: rendering column by column needs the batch turned
into columns and back into rows, and a function call per column per batch; one whose
tuple names every cell's rendering (a dict look-up for codes and photo lists, the
local hour for times, a first-character test for texts and a sign test for numbers) does
one pass over the rows, each row's cells made just before csv.writer reads them (still in
the processor's cache).

It must not decide anything a batch might not fit: every rendering here is the one the
column-at-once formatter gives for the values the store writes (texts, numbers, NULL,
UTC times as ``tickets.rows.iso`` writes them); a batch with anything else (a number in a
text column, a time in another shape or zone offset) raises ``Unfit`` or TypeError and
is rendered by that formatter instead. It reads no database and no config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields
from itertools import chain
from operator import itemgetter
from typing import Any

from bots.cli.base import CSV_FORMULA_START
from tickets.model import Ticket

Rows = Sequence[Sequence[Any]]
_TYPES = {f.name: str(f.type) for f in fields(Ticket)}
UTC_SHAPE = tuple((i, c) for i, c in enumerate("    -  -  T  :  :  .      +00:00") if c != " ")
"""(position, character) that every time the store writes has (tickets.rows.iso); the
other positions are digits. Checked for a whole batch (or column) at once, by strided
slices."""


class Unfit(Exception):
    """The batch holds a value the fast path does not render (see the module docstring)."""


class Hours(dict[str, str]):
    """Local "YYYY-MM-DD HH" by UTC hour "YYYY-MM-DDTHH", each hour computed once by
    ``render`` (which raises ``Unfit`` where the zone is not whole hours from UTC)."""

    def __init__(self, render: Callable[[str], str]) -> None:
        super().__init__()
        self.render = render

    def __missing__(self, key: str) -> str:
        text = self[key] = self.render(key)
        return text


def row_builder(
    fields_out: Sequence[str],
    names: Sequence[str],
    kinds: Mapping[str, str],
    tables: Mapping[str, Mapping[Any, str]],
    hours: Hours,
) -> Callable[[Rows], Iterator[tuple[Any, ...]]]:
    """The cells (``fields_out`` order) of stored rows (columns ``names``): ``kinds`` says
    per field "time", "table" (rendered by the mapping ``tables[field]``: codes, photo
    lists) or "plain" (the cell as stored, formula-neutralised). The rows come lazily,
    each built as the CSV writer takes it; a batch the fast path cannot render raises
    ``Unfit`` (at once) or TypeError (at the row that holds the odd value)."""
    index = {name: i for i, name in enumerate(names)}
    scope: dict[str, Any] = {
        "H": hours,
        "F": frozenset(CSV_FORMULA_START),
        "q": _quoted,
        "g": _neutral,
        "type": type,
    }
    parts = []
    for n, name in enumerate(fields_out):
        i = index[name]
        if kinds[name] == "table":
            scope[f"t{n}"] = tables[name]
            parts.append(f"t{n}[r[{i}]]")
        elif kinds[name] == "time":
            parts.append(f'(H[v[:13]] + v[13:19] if (v := r[{i}]) else "")')
        else:
            plain = _PLAIN.get(_TYPES.get(name, ""), "g(r[{i}])") if _ONE_CHARACTER else "g(r[{i}])"
            parts.append(plain.format(i=i))
    # Only the indexes above and fixed names go into the source: no stored value.
    source = f"lambda rows: (({', '.join(parts)},) for r in rows)"
    build: Callable[[Rows], Iterator[tuple[Any, ...]]] = eval(source, scope)
    times = [index[name] for name in fields_out if kinds[name] == "time"]
    picked = itemgetter(*times) if len(times) > 1 else None

    def cells(rows: Rows) -> Iterator[tuple[Any, ...]]:
        if picked is not None:
            _check_times(list(filter(None, chain.from_iterable(map(picked, rows)))))
        elif times:
            _check_times([row[times[0]] for row in rows if row[times[0]]])
        return build(rows)

    return cells


def _check_times(stored: list[Any]) -> None:
    """Unfit unless every time is the store's own UTC text (32 characters, "+00:00")."""
    try:
        joined = "".join(stored)
    except TypeError as exc:
        raise Unfit("a time that is not text") from exc
    if set(map(len, stored)) - {32} or any(joined[i::32] != c * len(stored) for i, c in UTC_SHAPE):
        raise Unfit("a time not as the store writes it")


# The rendering of a plain cell by the field's declared type. A text starting with a
# formula character gets a "'" (bots.cli.tickets._cell); a number is written as it is
# unless its text starts with "-" (negative, or -0.0: hence "> 0", and ">= 0" for ints
# only). A value of another type makes the test raise TypeError: the batch is unfit.
_PLAIN = {
    "str": '(v if (v := r[{i}])[:1] not in F else "\'" + v)',
    "str | None": '(v if (v := r[{i}]) is None or v[:1] not in F else "\'" + v)',
    "int": "(v if (v := r[{i}]) is None or (v >= 0 and type(v) is int) or v > 0 else q(v))",
    "int | None": "(v if (v := r[{i}]) is None or (v >= 0 and type(v) is int) or v > 0 else q(v))",
    "float | None": "(v if (v := r[{i}]) is None or v > 0 else q(v))",
}


# The first-character test (v[:1] in F) stands for text.startswith(CSV_FORMULA_START).
_ONE_CHARACTER = all(len(start) == 1 for start in CSV_FORMULA_START)


def _quoted(value: Any) -> str:
    text = str(value)
    return f"'{text}" if text.startswith(CSV_FORMULA_START) else text


def _neutral(value: Any) -> Any:
    """Any other stored value: as it is, or its text with a "'" when that is a formula."""
    if value is None or not str(value).startswith(CSV_FORMULA_START):
        return value
    return f"'{value}"
