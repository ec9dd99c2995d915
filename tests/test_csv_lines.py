"""``bots.cli.csv_lines`` writes what csv.writer writes in the export's dialect, byte for
byte: every code point in a cell, and random rows of texts, None, numbers and bytes."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest

from bots.cli.csv_lines import lines


def written(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def test_every_code_point_is_quoted_as_csv_writer_quotes_it() -> None:
    points = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    rows: list[list[Any]] = [[f"a{chr(c)}b", chr(c), c] for c in points]
    columns = [list(column) for column in zip(*rows, strict=True)]
    assert lines(columns) == written(rows)


PIECES = ["", "x", ",", '"', "\r", "\n", "\r\n", " ", "'", "=", "-", "\0", "，", "漏水", "\t"]
VALUES: list[Any] = [None, 0, -1, 12, 2.5, -0.0, 0.1 + 0.2, 1e16, float("inf"), b"=a,b", b""]


def random_cell(rng: random.Random) -> Any:
    if rng.random() < 0.3:
        return rng.choice(VALUES)
    return "".join(rng.choice(PIECES) for _ in range(rng.randrange(4)))


@pytest.mark.parametrize("seed", range(20))
def test_random_rows_are_written_as_csv_writer_writes_them(seed: int) -> None:
    rng = random.Random(seed)
    width = rng.randrange(2, 8)
    rows = [[random_cell(rng) for _ in range(width)] for _ in range(rng.randrange(1, 60))]
    columns = [list(column) for column in zip(*rows, strict=True)]
    assert lines(columns) == written(rows)


def test_no_rows_are_no_lines_and_one_cell_rows_are_refused() -> None:
    assert lines([[], []]) == ""
    with pytest.raises(ValueError):
        lines([["", "x"]])
