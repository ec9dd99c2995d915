"""Statistics (统计) of the tickets, read from a rollup kept in the events' transaction.

A ticket's *contribution* to the figures is a pure function of its current row (and
the time of its first claim, from the event log): counted on the local day it was
filed, under the whole desk (dim '') and under its category, area, team and channel
(and its technician for the per-technician figures). On every event the store calls
``refresh``, which adds ``contribution(after) - contribution(before)`` to
``stats_rollup``; so a reopen takes its resolution out again, a transfer moves the
ticket to its new team, a pause that moved the due times changes its compliance — the
figures are always those of the tickets as they are now, and the migration's
``rebuild`` (the sum over all tickets) gives exactly the same table.

Why one row per (dimension, day, value, figure, bucket) rather than a cube of
day × category × area × team × channel: at a million tickets such a cube has nearly a
row per ticket (each cell holds two or three tickets), so summing it is no faster than
the tickets themselves. Durations are kept as histograms (buckets growing by 10 %), so
the mean is exact (the sum is kept) and the p90 is the upper edge of its bucket (at
most 10 % high). Pure: no clock, no I/O other than the connection it is given.
"""

from __future__ import annotations

import functools
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from tickets.model import Action, Event, Ticket
from tickets.rows import iso

__all__ = [
    "DIMENSIONS",
    "Figures",
    "Group",
    "figures",
    "periods",
    "rebuild",
    "refresh",
    "volume",
]

SCHEMA = """
CREATE TABLE stats_rollup (
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    value TEXT NOT NULL,
    key TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total REAL NOT NULL,
    PRIMARY KEY (dim, day, value, key, bucket)
) WITHOUT ROWID;
CREATE TABLE stats_zone (zone TEXT NOT NULL);
"""
MONTH_SCHEMA = """
CREATE TABLE stats_month (
    dim TEXT NOT NULL,
    month TEXT NOT NULL,
    value TEXT NOT NULL,
    key TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total REAL NOT NULL,
    PRIMARY KEY (dim, month, value, key, bucket)
) WITHOUT ROWID
"""
"""The same figures summed per local month ('2026-11'): a year by category reads ~18,000
rows instead of ~380,000 (the day rows' buckets of a month mostly coincide)."""
DIMENSIONS = ("category", "area", "team", "channel", "technician")
LIMITS = ("claim", "arrive", "resolve")
_RATIO = 1.1
_CLAIMS = (Action.CLAIM.value, Action.ASSIGN.value)


class Facts(NamedTuple):
    """What the figures need of one ticket (ISO-8601 UTC texts, as stored)."""

    created: str
    category: str
    area: str
    team: str
    channel: str
    holder: str | None
    claimed: str | None
    signed_in: str | None
    resolved: str | None
    claim_due: str | None
    arrive_due: str | None
    resolve_due: str | None
    rating: int | None
    reopened: bool


Key = tuple[str, str, str, str, int]  # dim, day, value, key, bucket


def bucket(seconds: float) -> int:
    minutes = seconds / 60
    return 0 if minutes < 1 else 1 + int(math.log(minutes) / math.log(_RATIO))


def upper_minutes(b: int) -> float:
    return 1.0 if b == 0 else _RATIO**b


def _seconds(start: str, end: str) -> float:
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def contribution(facts: Facts, zone: ZoneInfo) -> dict[Key, tuple[int, float]]:
    day = datetime.fromisoformat(facts.created).astimezone(zone).strftime("%Y-%m-%d")
    items: list[tuple[str, int, float]] = [("created", 0, 0.0)]
    late = False
    reached = {"claim": facts.claimed, "arrive": facts.signed_in, "resolve": facts.resolved}
    dues = {"claim": facts.claim_due, "arrive": facts.arrive_due, "resolve": facts.resolve_due}
    for limit, at in reached.items():
        if at is None:
            continue
        seconds = _seconds(facts.created, at)
        items.append((limit, bucket(seconds), seconds))
        due = dues[limit]
        if due is not None:
            ok = at <= due
            late = late or not ok
            items.append((f"{limit}_{'ok' if ok else 'late'}", 0, 0.0))
    if facts.rating is not None:
        items.append(("rating", facts.rating, float(facts.rating)))
    if facts.reopened:
        items.append(("reopened", 0, 0.0))
    out: dict[Key, tuple[int, float]] = {}
    for dim, value in (
        ("", ""),
        ("category", facts.category),
        ("area", facts.area),
        ("team", facts.team),
        ("channel", facts.channel),
    ):
        for key, b, total in items:
            out[(dim, day, value, key, b)] = (1, total)
    if facts.holder:
        tech: list[tuple[str, int, float]] = [("assigned", 0, 0.0)]
        if facts.resolved:
            onsite = _seconds(facts.signed_in, facts.resolved) if facts.signed_in else 0.0
            tech += [("job", 0, 0.0), ("onsite", 0, onsite)]
        if facts.rating is not None:
            tech.append(("rating", facts.rating, float(facts.rating)))
        if late:
            tech.append(("overdue", 0, 0.0))
        for key, b, total in tech:
            out[("technician", day, facts.holder, key, b)] = (1, total)
    return out


def facts_of(ticket: Ticket, claimed: str | None) -> Facts:
    def text(moment: datetime | None) -> str | None:
        return None if moment is None else iso(moment)

    return Facts(
        iso(ticket.created_at),
        ticket.category,
        ticket.area,
        ticket.team,
        ticket.reporter_channel,
        ticket.holder,
        claimed,
        text(ticket.signed_in_at),
        text(ticket.resolved_at),
        text(ticket.claim_due),
        text(ticket.arrive_due),
        text(ticket.resolve_due),
        ticket.rating,
        ticket.reopen_count > 0,
    )


def _add(conn: sqlite3.Connection, deltas: dict[Key, list[float]], *, months: bool = True) -> None:
    """Add ``deltas`` to the day rows and (``months``) to the month rows."""
    _add_rows(conn, [(*k, int(v[0]), v[1]) for k, v in deltas.items() if v[0] or v[1]], months)


def _add_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], months: bool) -> None:
    _upsert(conn, "stats_rollup", "day", rows)
    if months:
        summed: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0])
        for dim, day, value, key, b, n, total in rows:
            cell = summed[(dim, day[:7], value, key, b)]
            cell[0] += n
            cell[1] += total
        _upsert(conn, "stats_month", "month", [(*k, int(v[0]), v[1]) for k, v in summed.items()])


def _upsert(conn: sqlite3.Connection, table: str, period: str, rows: list[tuple[Any, ...]]) -> None:
    # One statement per 100 rows (an event moves 5–30): fewer round trips in the
    # event's transaction, far below SQLite's 32766 variables.
    for start in range(0, len(rows), 100):
        chunk = rows[start : start + 100]
        conn.execute(_upsert_sql(table, period, len(chunk)), [v for row in chunk for v in row])


@functools.lru_cache(maxsize=256)
def _upsert_sql(table: str, period: str, rows: int) -> str:
    # Made once per table and row count (an event moves the same few cells each time).
    return (
        f"INSERT INTO {table} (dim, {period}, value, key, bucket, n, total) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
        + f" ON CONFLICT (dim, {period}, value, key, bucket) DO UPDATE"
        " SET n = n + excluded.n, total = total + excluded.total"
    )


def fill_months(conn: sqlite3.Connection) -> None:
    """The month rows again from the day rows (the migration's backfill, and ``rebuild``)."""
    conn.execute("DELETE FROM stats_month")
    conn.execute(
        "INSERT INTO stats_month (dim, month, value, key, bucket, n, total)"
        " SELECT dim, substr(day, 1, 7), value, key, bucket, sum(n), sum(total)"
        " FROM stats_rollup GROUP BY dim, substr(day, 1, 7), value, key, bucket"
    )


def refresh(
    conn: sqlite3.Connection, before: Ticket | None, after: Ticket, event: Event, zone: ZoneInfo
) -> None:
    """Move ``after``'s contribution into the rollup (the store calls this in the
    transaction of ``event``, already written)."""
    if before is None:  # a new ticket (not claimed yet): its contribution as it is
        cells = contribution(facts_of(after, None), zone).items()
        _add_rows(conn, [(*k, n, total) for k, (n, total) in cells if n or total], True)
        return
    first: tuple[str | None, str | None] = conn.execute(
        "SELECT min(CASE WHEN id < ? THEN at END), min(at) FROM events"
        f" WHERE number = ? AND action IN {_CLAIMS!r}",
        [event.id, after.number],
    ).fetchone()
    deltas: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0])
    for key, (n, total) in contribution(facts_of(after, first[1]), zone).items():
        deltas[key][0] += n
        deltas[key][1] += total
    for key, (n, total) in contribution(facts_of(before, first[0]), zone).items():
        deltas[key][0] -= n
        deltas[key][1] -= total
    _add(conn, deltas)


def rebuild(conn: sqlite3.Connection, zone: ZoneInfo) -> int:
    """Sum every ticket's contribution again (the migration's backfill; benches)."""
    conn.execute("DELETE FROM stats_rollup")
    conn.execute("DELETE FROM stats_zone")
    conn.execute("INSERT INTO stats_zone (zone) VALUES (?)", [zone.key])
    claimed = dict(
        conn.execute(
            f"SELECT number, min(at) FROM events WHERE action IN {_CLAIMS!r} GROUP BY number"
        ).fetchall()
    )
    sums: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0])
    cursor = conn.execute(
        "SELECT number, created_at, category, area, team, reporter_channel, holder, signed_in_at,"
        " resolved_at, claim_due, arrive_due, resolve_due, rating, reopen_count > 0 FROM tickets"
    )
    count = 0
    while batch := cursor.fetchmany(5000):
        for number, *row in batch:
            (created, category, area, team, channel, holder, signed, resolved) = row[:8]
            facts = Facts(
                created,
                category,
                area,
                team,
                channel,
                holder,
                claimed.get(number),
                signed,
                resolved,
                row[8],
                row[9],
                row[10],
                row[11],
                bool(row[12]),
            )
            for key, (n, total) in contribution(facts, zone).items():
                sums[key][0] += n
                sums[key][1] += total
            count += 1
    # The migration that first filled the rollup ran before stats_month existed.
    has_months = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stats_month'"
    ).fetchone()
    _add(conn, sums, months=False)
    if has_months:
        fill_months(conn)
    return count


# reading --------------------------------------------------------------------------


@dataclass
class Group:
    """The figures of one group (the whole desk, a category, a technician…)."""

    value: str
    created: int = 0
    durations: dict[str, dict[int, tuple[int, float]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ratings: dict[int, int] = field(default_factory=dict)
    onsite_seconds: float = 0.0
    repeats: int = 0

    def mean_minutes(self, limit: str) -> float | None:
        hist = self.durations.get(limit, {})
        n = sum(c for c, _ in hist.values())
        return None if n == 0 else sum(t for _, t in hist.values()) / n / 60

    def p90_minutes(self, limit: str) -> float | None:
        hist = self.durations.get(limit, {})
        n = sum(c for c, _ in hist.values())
        if n == 0:
            return None
        seen = 0
        for b in sorted(hist):
            seen += hist[b][0]
            if seen >= 0.9 * n:
                return upper_minutes(b)
        return None  # pragma: no cover - the loop always reaches n

    def compliance(self, limit: str) -> float | None:
        ok, late = self.counts.get(f"{limit}_ok", 0), self.counts.get(f"{limit}_late", 0)
        return None if ok + late == 0 else ok / (ok + late)

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    def average_rating(self) -> float | None:
        return None if not self.rated else sum(r * n for r, n in self.ratings.items()) / self.rated

    def share(self, key: str, base: int | None = None) -> float | None:
        whole = self.created if base is None else base
        return None if whole == 0 else self.counts.get(key, 0) / whole


@dataclass
class Figures:
    start: date
    end: date  # inclusive
    by: str  # '' for the whole desk
    groups: list[Group]


def _rows(store: Any, sql: str, params: list[Any]) -> Iterator[dict[str, Any]]:
    yield from store.query(sql, params)


def figures(store: Any, start: date, end: date, *, by: str = "") -> Figures:
    """The figures of the tickets filed from ``start`` to ``end`` (local days, both
    included), for the whole desk or per ``by`` (one of ``DIMENSIONS``)."""
    if by and by not in DIMENSIONS:
        raise ValueError(by)
    groups: dict[str, Group] = {}
    figure = "value, key, bucket, n, total"
    parts, params = _spans(start, end, by, (figure, figure))
    for row in _rows(
        store,
        "SELECT value, key, bucket, sum(n) AS n, sum(total) AS total FROM ("
        + parts
        + ") GROUP BY value, key, bucket",
        params,
    ):
        key, n, total = row["key"], int(row["n"]), float(row["total"])
        if n == 0:  # moved away (a transfer, a reopen): a row kept at zero
            continue
        group = groups.setdefault(row["value"], Group(row["value"]))
        if key in LIMITS:
            group.durations.setdefault(key, {})[row["bucket"]] = (n, total)
        elif key == "rating":
            group.ratings[row["bucket"]] = n
        else:
            group.counts[key] = group.counts.get(key, 0) + n
            if key == "created":
                group.created = n
            if key == "onsite":
                group.onsite_seconds = total
    _repeats(store, start, end, by, groups)
    ordered = sorted(groups.values(), key=lambda g: (-g.created, -g.counts.get("job", 0), g.value))
    return Figures(start, end, by, ordered)


def _spans(
    start: date, end: date, dim: str, columns: tuple[str, str], where: str = ""
) -> tuple[str, list[Any]]:
    """A UNION ALL of the rows of ``dim`` from ``start`` to ``end``: the month rows of
    the whole months inside, the day rows of the days before and after them.
    ``columns``: what to select from a day row and from a month row."""
    first = start if start.day == 1 else _next_month(start)
    last_whole = _next_month(end) - timedelta(days=1) == end
    after = _next_month(end) if last_whole else end.replace(day=1)
    days = [(start, end)]
    parts: list[str] = []
    params: list[Any] = []
    if first < after:
        days = [(start, first - timedelta(days=1)), (after, end)]
        parts.append(
            f"SELECT {columns[1]} FROM stats_month WHERE dim = ?{where} AND month BETWEEN ? AND ?"
        )
        params += [dim, first.isoformat()[:7], (after - timedelta(days=1)).isoformat()[:7]]
    for low, high in days:
        if low <= high:
            parts.append(
                f"SELECT {columns[0]} FROM stats_rollup WHERE dim = ?{where}"
                " AND day BETWEEN ? AND ?"
            )
            params += [dim, low.isoformat(), high.isoformat()]
    return " UNION ALL ".join(parts), params


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _repeats(store: Any, start: date, end: date, by: str, groups: dict[str, Group]) -> None:
    # Repeat marks are written by the repeat rules, not by events: counted here from
    # ticket_flags (a small table) joined to the tickets filed in the period.
    column = {"": "''", "channel": "t.reporter_channel", "technician": "t.holder"}.get(
        by, f"t.{by}"
    )
    zone = _zone(store)
    low = datetime.combine(start, datetime.min.time(), zone)
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone)
    for row in store.query(
        # CROSS JOIN: from the few flags to their tickets, never the period's tickets
        # (a year: a million) each probing the flags.
        f"SELECT {column} AS value, count(DISTINCT f.number) AS n FROM ticket_flags f"
        " CROSS JOIN tickets t ON t.number = f.number WHERE f.flag = 'repeat'"
        " AND t.created_at >= ? AND t.created_at < ? GROUP BY 1",
        [iso(low), iso(high)],
    ):
        if row["value"] in groups:
            groups[row["value"]].repeats = int(row["n"])


def _zone(store: Any) -> ZoneInfo:
    rows = store.query("SELECT zone FROM stats_zone")
    return ZoneInfo(rows[0]["zone"] if rows else store.config.timezone)


def volume(
    store: Any, start: date, end: date, *, period: str = "day", by: str = ""
) -> dict[str, dict[str, int]]:
    """Tickets filed per period (``day``, ``week`` = its Monday, ``month``) and per
    value of ``by``: ``{period_start: {value: count}}``, periods in order."""
    out: dict[str, dict[str, int]] = {}
    where = " AND key = 'created' AND bucket = 0"
    if period == "month":  # whole months from the month rows
        parts, params = _spans(start, end, by, ("day, value, n", "month AS day, value, n"), where)
    else:
        parts = f"SELECT day, value, n FROM stats_rollup WHERE dim = ?{where}"
        parts += " AND day BETWEEN ? AND ?"
        params = [by, start.isoformat(), end.isoformat()]
    for row in store.query(
        f"SELECT day, value, sum(n) AS n FROM ({parts}) GROUP BY day, value ORDER BY day",
        params,
    ):
        label = _period(row["day"], period)
        cell = out.setdefault(label, {})
        cell[row["value"]] = cell.get(row["value"], 0) + int(row["n"])
    return out


def _period(day: str, period: str) -> str:
    if period == "month":
        return day[:7]
    if period == "week":
        moment = date.fromisoformat(day)
        return (moment - timedelta(days=moment.weekday())).isoformat()
    return day


def periods(start: date, end: date, period: str) -> list[str]:
    """Every period label from ``start`` to ``end`` in order, as ``volume`` names them
    (for a chart or table that shows the empty days too)."""
    return list(dict.fromkeys(_period(d.isoformat(), period) for d in days(start, end)))


def days(start: date, end: date) -> Iterable[date]:
    current = start
    while current <= end:
        yield current
        current += timedelta(days=1)
