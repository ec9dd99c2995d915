"""The ticket CSV export (``baoxiu tickets export``) byte for byte: a seeded database of
tickets with every kind of cell (formula-like texts, quotes, newlines, unknown codes,
paused tickets, photos, negative coordinates, times in several zones) is exported with
``write_csv`` and compared with

- the sha256 of the export as it was before the export's fast path (issue 11), so a speed
  change can never change a byte; and
- a reference export built the slow, obvious way (a Ticket per row, ``value_text`` of each
  field, formula-neutralised, through ``csv.writer``), so a legitimate change of the
  catalogs or of ``value_text`` shows up as a disagreement there first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import NOW, make_config, make_ticket

from bots.cli.tickets import FIELDS, _cell, value_text, write_csv
from config.model import Config
from conversation.i18n import local_time, translate
from tickets.model import Mode, Priority, State
from tickets.queries import batches
from tickets.rows import ticket_from_row, ticket_row
from tickets.store import Store

TEXTS = [
    "卫生间水管漏水",
    '=HYPERLINK("http://x")',
    "+1 call me",
    "-1+1",
    "@sum",
    "\tindented",
    "\rreturn first",
    'quote " and, comma',
    "two\nlines",
    "",
    " leading space",
    "'already quoted",
    "ünïcödé ✓ 🚰",
]
CATEGORIES = ["water.leak", "net.broadband", "power.outage", "gone.category"]
HOLDERS = [None, "zhang", "li", "sun", "nobody"]
TEAMS = ["maint", "net", "power", "ghost"]


def maybe(rng: random.Random, at: datetime) -> datetime | None:
    return at + timedelta(minutes=rng.randrange(1, 5000)) if rng.random() < 0.6 else None


def seeded_rows(count: int, seed: int = 11) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        at = NOW - timedelta(seconds=rng.randrange(400 * 86400))  # spans DST changes
        state = rng.choice(list(State))
        ticket = make_ticket(
            number=f"BX{at:%Y%m%d}-{i:04d}",
            state=state,
            paused_from=rng.choice([State.ON_SITE, State.ASSIGNED])
            if state == State.PAUSED
            else None,
            category=rng.choice(CATEGORIES),
            team=rng.choice(TEAMS),
            priority=rng.choice(list(Priority)),
            mode=rng.choice(list(Mode)),
            phone=rng.choice(["+8613812345678", "+1 555 0100", "-0"]),
            description=rng.choice(TEXTS),
            reporter_channel=rng.choice(["web", "telegram", "terminal"]),
            reporter_chat=f"r{rng.randrange(50)}",
            reporter_locale=rng.choice(["zh_CN", "en"]),
            created_at=at,
            updated_at=at + timedelta(seconds=rng.randrange(86400)),
            area=rng.choice(["east", "west", ""]),
            building=rng.choice(["b1", "b9", "=b"]),
            spot=rng.choice(["302", "-1F", "3楼302", ""]),
            latitude=rng.choice([None, 31.23, -31.5, 0.0]),
            longitude=rng.choice([None, 121.47, -0.25]),
            photos=tuple(rng.sample(["a.jpg", "=b.jpg", "c d.png"], rng.randrange(4))),
            preferred_time=rng.choice(["", "下午", "-morning"]),
            holder=rng.choice(HOLDERS),
            pause_reason=rng.choice(TEXTS) if state == State.PAUSED else "",
            claim_due=maybe(rng, at),
            arrive_due=maybe(rng, at),
            resolve_due=maybe(rng, at),
            signed_in_at=maybe(rng, at),
            resolved_at=maybe(rng, at),
            closed_at=maybe(rng, at),
            resolution=rng.choice(TEXTS),
            resolution_photos=tuple(rng.sample(["r.jpg", "+r.jpg"], rng.randrange(3))),
            distance_m=rng.choice([None, 12.5, 0.0, 1234.0]),
            rating=rng.choice([None, 1, 5]),
            comment=rng.choice(TEXTS),
            hurry_count=rng.randrange(3),
            reopen_count=rng.randrange(2),
            master=rng.choice([None, "BX20261123-0009"]),
            overdue=rng.choice(["", "claim", "claim,arrive"]),
            version=rng.randrange(1, 9),
            acknowledged_at=maybe(rng, at),
        )
        rows.append(ticket_row(ticket))
    return rows


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database of 700 seeded tickets; the tests pass small batch sizes, so batch
    edges are crossed too."""
    root = tmp_path_factory.mktemp("export")
    config = make_config(root)
    with Store(config.database, config) as store, store.transaction():
        for row in seeded_rows(700):
            store.db.execute(
                f"INSERT INTO tickets ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
    return config.database


def export(config: Config, db: Path, batch: int = 97) -> bytes:
    out = io.BytesIO()
    conn = sqlite3.connect(str(db))
    try:
        count = write_csv(config, batches(conn, batch=batch), out.write)
    finally:
        conn.close()
    assert count == 700
    return out.getvalue()


def reference(config: Config, db: Path) -> bytes:
    """The export the obvious way: every row a Ticket, every cell value_text."""
    conn = sqlite3.connect(str(db))
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM tickets ORDER BY created_at DESC, number DESC").fetchall()
    conn.close()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([translate(config.locale, f"cli.field.{n}") for n in FIELDS])
    for row in rows:
        ticket = ticket_from_row(dict(row))
        writer.writerow(
            [_cell(value_text(config, n, getattr(ticket, n), config.locale)) for n in FIELDS]
        )
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")


# sha256 of the export of the seeded database, taken with the export of main at abc40f0
# (before issue 11's export fast path), one per (locale, time zone).
GOLDEN = {
    ("zh_CN", "Asia/Shanghai"): "795ff48ff061b7ac6c740d758a44dd42f188923db8b08fae6683ca4aab06e7bd",
    ("en", "Europe/Berlin"): "5914488dc0b46be7cd831d386fa627d3853ab1e0b132979e8028386ae14b4b73",
    ("en", "America/St_Johns"): "cc222897d6fca0b444e07bf8c9e4ccf48af896a973b92c53810cff5a6bbd77c3",
}


@pytest.mark.parametrize(("locale", "zone"), list(GOLDEN))
def test_export_is_byte_identical_to_before(
    seeded: Path, tmp_path: Path, locale: str, zone: str
) -> None:
    config = replace(make_config(tmp_path), locale=locale, timezone=zone)
    data = export(config, seeded)
    assert hashlib.sha256(data).hexdigest() == GOLDEN[(locale, zone)]


@pytest.mark.parametrize(("locale", "zone"), list(GOLDEN))
@pytest.mark.parametrize("batch", [1, 97, 1000])
def test_export_equals_the_obvious_export(
    seeded: Path, tmp_path: Path, locale: str, zone: str, batch: int
) -> None:
    config = replace(make_config(tmp_path), locale=locale, timezone=zone)
    assert export(config, seeded, batch) == reference(config, seeded)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("latitude", -0.0),
        ("latitude", 0.0),
        ("latitude", -31.5),
        ("distance_m", 1e16),
        ("rating", 0),
        ("rating", -1),
        ("description", "-"),
        ("description", "a=b"),
        ("master", None),
    ],
)
def test_a_column_of_numbers_or_texts_is_quoted_like_one_cell(
    tmp_path: Path, name: str, value: object
) -> None:
    """The column-at-once shortcuts (numbers passed to csv.writer as they are, texts
    searched as one string) give what value_text and _cell give for that one cell."""
    config = make_config(tmp_path)
    names = list(FIELDS)
    row: list[object] = [None] * len(names)
    row[names.index(name)] = value
    [line] = csv.reader(io.StringIO(_csv_of(config, names, [row, [None] * len(names)])))
    want = "" if value is None else _cell(value_text(config, name, value, "zh_CN"))
    assert line[names.index(name)] == want


def _csv_of(config: Config, names: list[str], rows: list[list[object]]) -> str:
    out = io.BytesIO()
    write_csv(config, [(names, rows)], out.write)
    return out.getvalue().decode("utf-8-sig").split("\r\n", 1)[1].split("\r\n")[0]


@pytest.mark.parametrize(
    "texts",
    [
        ["2026-11-23T08:00:00+08:00"],  # not the store's width: converted cell by cell
        ["2026-11-23T08:00:00.000000+08:00", "2026-11-23T08:00:00.000000+00:00"],
        ["2026-11-23T08:59:59.999999+00:00", None],
    ],
)
def test_times_not_as_the_store_writes_them_are_still_right(
    tmp_path: Path, texts: list[str | None]
) -> None:
    config = make_config(tmp_path)
    names = list(FIELDS)
    at = names.index("created_at")
    rows: list[list[object]] = []
    for text in texts:
        row: list[object] = [None] * len(names)
        row[at] = text
        rows.append(row)
    out = io.BytesIO()
    write_csv(config, [(names, rows)], out.write)
    lines = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))[1:]
    for text, line in zip(texts, lines, strict=True):
        want = (
            ""
            if text is None
            else local_time(datetime.fromisoformat(text), config.timezone, "%Y-%m-%d %H:%M:%S")
        )
        assert line[at] == want


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("description", 12),  # a number in a text column (SQLite keeps what it is given)
        ("description", b"=blob"),
        ("rating", "-3"),  # a text in a number column
        ("latitude", float("nan")),
        ("hurry_count", -0.0),
        ("hurry_count", 0.0),
        ("version", 2.5),
        ("master", "=x"),
        ("photos", None),
    ],
)
def test_odd_stored_values_are_written_as_one_cell_of_them_would_be(
    tmp_path: Path, name: str, value: object
) -> None:
    """Values of a type the store does not write there still read as _cell(value_text(...))
    of them (None: empty), whatever shortcut the export takes for a column."""
    config = make_config(tmp_path)
    names = list(FIELDS)
    row: list[object] = [None] * len(names)
    row[names.index(name)] = value
    for other in ("number", "created_at"):
        row[names.index(other)] = "2026-11-23T08:00:00.000000+00:00"
    [line] = csv.reader(io.StringIO(_csv_of(config, names, [row])))
    shown = value_text(config, name, value, "zh_CN") if name != "photos" else ""
    assert line[names.index(name)] == ("" if value is None else _cell(shown))
