"""The export's lines (``write_csv``: cells rendered as csv.writer writes them, joined per
row) are byte for byte what the cell rendering before it gave through csv.writer
(``batch_formatter`` + ``csv.writer.writerows``), for generated odd rows: None in every
column, negative numbers and -0.0, numbers in text columns and texts in number columns,
bytes, formula starts, commas, quotes and line breaks, unknown codes, times not as the
store writes them, and store times across DST changes and in :30 zones."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config

from bots.cli.base import say
from bots.cli.tickets import FIELDS, batch_formatter, write_csv
from config.model import Config
from tickets.model import Mode, Priority, State
from tickets.rows import iso

TEXTS = ["", "漏水", "=1+1", "+86", "-1", "@x", "\tx", "\rx", 'a "b"', "a,b", "a\nb", "'q", " x"]
ODD = [None, 0, -1, 7, 2.5, -0.0, 0.0, -3.25, 1e16, 0.1 + 0.2, b"", b"=a,b", "-0"]
CODES = {
    "state": [s.value for s in State],
    "paused_from": [s.value for s in State],
    "priority": [p.value for p in Priority],
    "mode": [m.value for m in Mode],
    "category": ["water.leak", "water", "gone.code", "=evil", "a,b"],
    "team": ["maint", "ghost", "-t"],
    "holder": ["zhang", "nobody", "+h", 'q"h'],
}
LISTS = [None, "[]", '["a.jpg"]', '["=b.jpg", "c,d.png"]', '["x\\"y"]']
TIMES = frozenset(
    {"created_at", "updated_at", "claim_due", "arrive_due", "resolve_due"}
    | {"signed_in_at", "resolved_at", "closed_at", "acknowledged_at"}
)
# New York moves at 07:00 UTC on 2026-03-08 and 06:00 UTC on 2026-11-01; Berlin at 01:00
# UTC on 2026-03-29 and 2026-10-25; Kolkata is +05:30 and Shanghai +08:00 all along.
MOMENTS = [
    datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
    datetime(2026, 10, 31, 4, 0, tzinfo=UTC),
]
ODD_TIMES = [
    "2026-11-23T08:00:00+08:00",
    "2026-11-23T08:00:00.000000+08:00",
    "2026-11-23T08:59:59.999999+00:00",
    "2026-11-23T08:30",
]


def store_time(rng: random.Random) -> str:
    return iso(rng.choice(MOMENTS) + timedelta(seconds=rng.randrange(6 * 3600), microseconds=7))


def cell(rng: random.Random, name: str, odd_times: bool) -> Any:
    if rng.random() < 0.15:
        return None
    if name in TIMES:
        if odd_times and rng.random() < 0.3:
            return rng.choice(ODD_TIMES)
        return store_time(rng)
    if name in CODES:
        return rng.choice(CODES[name])
    if name in ("photos", "resolution_photos"):
        return rng.choice(LISTS)
    if rng.random() < 0.3:
        return rng.choice(ODD)
    return "".join(rng.choice(TEXTS) for _ in range(rng.randrange(3)))


def rows_of(seed: int, count: int, odd_times: bool) -> list[list[Any]]:
    rng = random.Random(seed)
    return [[cell(rng, name, odd_times) for name in FIELDS] for _ in range(count)]


def before(config: Config, batches: list[list[list[Any]]]) -> bytes:
    """The export as it was written before: csv.writer over batch_formatter's cells."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([say(config.locale, f"field.{name}") for name in FIELDS])
    cells = batch_formatter(config, FIELDS)
    for rows in batches:
        writer.writerows(cells(rows))
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")


def now(config: Config, batches: list[list[list[Any]]]) -> bytes:
    out = io.BytesIO()
    count = write_csv(config, [(FIELDS, rows) for rows in batches], out.write)
    assert count == sum(map(len, batches))
    return out.getvalue()


ZONES = ["Asia/Shanghai", "Asia/Kolkata", "America/New_York", "Europe/Berlin", "UTC"]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("odd_times", [False, True])
def test_odd_rows_are_written_as_before(
    tmp_path: Path, zone: str, locale: str, odd_times: bool
) -> None:
    config = replace(make_config(tmp_path), locale=locale, timezone=zone)
    rows = rows_of(ZONES.index(zone) * 4 + len(locale) + odd_times, 300, odd_times)
    batches = [rows[i : i + 37] for i in range(0, len(rows), 37)]
    assert now(config, batches) == before(config, batches)


@pytest.mark.parametrize("zone", ZONES)
def test_store_times_alone_and_a_comma_in_a_digit_are_written_as_before(
    tmp_path: Path, zone: str
) -> None:
    """A batch of times all as the store writes them takes the per-hour shortcut; its
    separators are checked, its digits are copied (a comma there must be quoted). Off
    whole hours each time is parsed, and that one is refused as before."""
    config = replace(make_config(tmp_path), timezone=zone)
    rng = random.Random(5)
    rows: list[list[Any]] = [[None] * len(FIELDS) for _ in range(200)]
    for row in rows:
        for i, name in enumerate(FIELDS):
            if name in TIMES and rng.random() < 0.8:
                row[i] = store_time(rng)
            elif name in ("state", "category", "team", "priority", "mode"):
                row[i] = CODES[name][0]
    at = FIELDS.index("closed_at")
    rows[3][at] = '2026-11-23T08:0,:0".000000+00:00'
    batches = [rows[:100], rows[100:]]
    try:
        expected = before(config, batches)
    except ValueError:  # a zone off whole hours converts cell by cell: no such time
        assert zone in ("Asia/Kolkata",)
        with pytest.raises(ValueError):
            now(config, batches)
        return
    assert now(config, batches) == expected


def test_columns_of_nothing_but_none_are_written_as_before(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rows: list[list[Any]] = [[None] * len(FIELDS) for _ in range(3)]
    assert now(config, [rows]) == before(config, [rows])
