"""How fast the console's statistics and search answer on a million tickets.

On the bench database of ``bench/data.py`` (copied to ``bench/.data/console-*.db``, where
opening it with the store runs the search/statistics migration: that backfill is timed
too), prints for each figure baoxiu's time next to the raw SQLite query for the same
answer in the same run, and the ratio (raw / baoxiu) as the headline:

1. a month's statistics (whole desk + by category + volume per day) — target < 200 ms;
   raw: the same counts, means and exact p90 from tickets + their first claim event;
2. a year's statistics (the same, volume per month) — target < 500 ms;
3. search of a 2-character and a 3-character Chinese term, first page of 20 ranked
   — target < 50 ms; raw: ``description LIKE '%term%'`` newest first (unranked);
4. with ``--trigram``: a trigram FTS5 table over the same text, for the record of why
   tickets.search cuts bigrams instead (a 2-character term needs a full-scan LIKE there).

Times are the median of 5 runs after one warm-up. Usage: ``python bench/console.py
[--db FILE] [--tickets N] [--trigram]``. Prints only; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import CACHE, END, ensure, team_config
from tickets import search, stats
from tickets.store import Store

_CLAIM = (
    "(SELECT min(at) FROM events e WHERE e.number = t.number AND e.action IN ('claim', 'assign'))"
)


def timed(run: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    result = run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def ours(store: Store, first: date, last: date, period: str) -> Any:
    return (
        stats.figures(store, first, last),
        stats.figures(store, first, last, by="category"),
        stats.volume(store, first, last, period=period),
    )


def raw(conn: sqlite3.Connection, zone: ZoneInfo, first: date, last: date, period: str) -> Any:
    """The same figures straight from tickets and events: counts, mean and exact p90
    of the time to claim / arrive / resolve, per category, and the volume per period."""
    low = datetime.combine(first, datetime.min.time(), zone).astimezone(ZoneInfo("UTC"))
    high = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    rows = conn.execute(
        "SELECT t.category, t.created_at,"
        f" (julianday({_CLAIM}) - julianday(t.created_at)) * 1440,"
        " (julianday(t.signed_in_at) - julianday(t.created_at)) * 1440,"
        " (julianday(t.resolved_at) - julianday(t.created_at)) * 1440, t.rating"
        " FROM tickets t WHERE t.created_at >= ? AND t.created_at < ?",
        [low.isoformat(), high.astimezone(ZoneInfo("UTC")).isoformat()],
    ).fetchall()
    groups: dict[str, list[list[float]]] = {}
    volume: dict[str, int] = {}
    for category, created, *durations, _rating in rows:
        for key in ("", category):
            lists = groups.setdefault(key, [[], [], []])
            for i, value in enumerate(durations):
                if value is not None:
                    lists[i].append(value)
        day = datetime.fromisoformat(created).astimezone(zone).strftime("%Y-%m-%d")
        label = day[:7] if period == "month" else day
        volume[label] = volume.get(label, 0) + 1
    out = {}
    for key, lists in groups.items():
        out[key] = [
            (statistics.fmean(v), sorted(v)[int(0.9 * (len(v) - 1))]) if v else None for v in lists
        ]
    return out, volume


def prepared(source: Path) -> Path:
    target = CACHE / f"console-{source.stem}.db"
    if not target.exists():
        shutil.copyfile(source, CACHE / "console.partial")
        (CACHE / "console.partial").replace(target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--db", type=Path, help="a bench/data.py database (default: build one)")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--trigram", action="store_true")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = prepared(args.db or ensure(args.tickets))
    config = replace(team_config(), database=path)
    started = time.perf_counter()
    store = Store(path, config)  # the migration backfills search + rollup on first open
    print(f"database {path}; open + migrations {time.perf_counter() - started:.1f} s")
    conn = store.db.conn
    zone = ZoneInfo(config.timezone)
    tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    rollup = conn.execute("SELECT count(*) FROM stats_rollup").fetchone()[0]
    print(f"{tickets} tickets, {rollup} rollup rows\n")
    last = END.astimezone(zone).date() - timedelta(days=1)
    lines = [("figure", "baoxiu ms", "raw SQLite ms", "raw/baoxiu", "target")]
    for name, first, period, target in (
        ("month statistics", last - timedelta(days=29), "day", "< 200 ms"),
        ("year statistics", last - timedelta(days=364), "month", "< 500 ms"),
    ):
        mine, _ = timed(lambda f=first, p=period: ours(store, f, last, p))
        base, _ = timed(lambda f=first, p=period: raw(conn, zone, f, last, p), repeat=1)
        lines.append((name, f"{mine:.1f}", f"{base:.1f}", f"{base / mine:.1f}x", target))
    for term in ("漏水", "停电", "插座无", "门锁 0007"):
        mine, page = timed(lambda t=term: search.search(store, t))
        like = "%" + term.split()[0] + "%"
        base, _rows = timed(
            lambda p=like: conn.execute(
                "SELECT * FROM tickets WHERE description LIKE ? ORDER BY created_at DESC LIMIT 20",
                [p],
            ).fetchall(),
            repeat=3,
        )
        label = f"search {term} ({len(page.tickets)} shown)"
        lines.append((label, f"{mine:.1f}", f"{base:.1f}", f"{base / mine:.1f}x", "< 50 ms"))
    if args.trigram:
        lines += trigram(conn)
    width = [max(len(str(r[i])) for r in lines) + 2 for i in range(5)]
    for row in lines:
        print("".join(str(c).ljust(w) for c, w in zip(row, width, strict=True)))
    store.close()


def trigram(conn: sqlite3.Connection) -> list[tuple[str, str, str, str, str]]:
    """The other choice of PITFALLS.md, measured: a trigram table (built once here)."""
    started = time.perf_counter()
    conn.execute("DROP TABLE IF EXISTS bench_trigram")
    conn.execute("CREATE VIRTUAL TABLE bench_trigram USING fts5 (body, tokenize = 'trigram')")
    conn.execute(
        "INSERT INTO bench_trigram (rowid, body) SELECT rowid, description || ' ' || spot"
        " FROM tickets"
    )
    built = (time.perf_counter() - started) * 1000
    out = [("trigram build", f"{built:.0f}", "", "", "")]
    for term in ("漏水", "插座无"):
        if len(term) >= 3:
            sql = (
                "SELECT rowid FROM bench_trigram WHERE bench_trigram MATCH ? ORDER BY rank LIMIT 20"
            )
            arg = f'"{term}"'
        else:  # trigram has no token for 2 characters: LIKE scans every row
            sql = "SELECT rowid FROM bench_trigram WHERE body LIKE ? LIMIT 20"
            arg = f"%{term}%"
        mine, _ = timed(lambda s=sql, a=arg: conn.execute(s, [a]).fetchall(), repeat=3)
        out.append((f"trigram {term}", f"{mine:.1f}", "", "", ""))
    conn.execute("DROP TABLE bench_trigram")
    return out


if __name__ == "__main__":
    main()
