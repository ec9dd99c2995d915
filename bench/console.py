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
4. the console's pages, server time (the handler, from request to response, measured by
   a middleware) through HTTP on 127.0.0.1: a queue page for several filters and both
   sorts — target < 20 ms; raw: the page's SELECT (``tickets.queries.statement``) alone;
   a ticket page — target < 10 ms; raw: the ticket, its events, its notices and its
   reporter's other tickets read by hand;
5. with ``--trigram``: a trigram FTS5 table over the same text, for the record of why
   tickets.search cuts bigrams instead (a 2-character term needs a full-scan LIKE there).

Times are the median of 5 runs after one warm-up. Usage: ``python bench/console.py
[--db FILE] [--tickets N] [--trigram] [--parts stats,search,pages]``. Prints only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

# Run as a script, this folder is sys.path[0], and its telegram.py would shadow the
# telegram package that the service's modules import: only the project root is kept.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import CACHE, END, ensure, team_config  # noqa: E402 (after sys.path)
from tickets import search, stats  # noqa: E402
from tickets.store import Store  # noqa: E402

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
    parser.add_argument(
        "--parts", default="stats,search,pages", help="which of stats,search,pages to run"
    )
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
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{tickets} tickets, {rollup} rollup rows; load average {load} on {os.cpu_count()} cores\n"
    )
    last = END.astimezone(zone).date() - timedelta(days=1)
    lines = [("figure", "baoxiu ms", "raw SQLite ms", "raw/baoxiu", "target")]
    parts = set(args.parts.split(","))
    for name, first, period, target in (
        ()
        if "stats" not in parts
        else (
            ("month statistics", last - timedelta(days=29), "day", "< 200 ms"),
            ("year statistics", last - timedelta(days=364), "month", "< 500 ms"),
        )
    ):
        mine, _ = timed(lambda f=first, p=period: ours(store, f, last, p))
        base, _ = timed(lambda f=first, p=period: raw(conn, zone, f, last, p), repeat=1)
        lines.append((name, f"{mine:.1f}", f"{base:.1f}", f"{base / mine:.1f}x", target))
    for term in () if "search" not in parts else ("漏水", "停电", "插座无", "门锁 0007"):
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
    if "pages" in parts:
        lines += asyncio.run(pages(store, config))
    if args.trigram:
        lines += trigram(conn)
    width = [max(len(str(r[i])) for r in lines) + 2 for i in range(5)]
    for row in lines:
        print("".join(str(c).ljust(w) for c, w in zip(row, width, strict=True)))
    store.close()


QUEUES: tuple[tuple[str, dict[str, str]], ...] = (
    ("queue: all, newest", {}),
    ("queue: new, by deadline", {"state": "new", "sort": "deadline"}),
    ("queue: area + category", {"area": "@area", "category": "@group"}),
    ("queue: technician, newest", {"technician": "t007"}),
    ("queue: technician, deadline", {"technician": "t007", "sort": "deadline"}),
    ("queue: overdue, deadline", {"overdue": "1", "sort": "deadline"}),
    ("queue: channel + last 7 days", {"channel": "telegram", "from": "@week"}),
    ("queue: closed, page 2", {"state": "closed", "after": "@cursor"}),
)


async def pages(store: Store, config: Any) -> list[tuple[str, str, str, str, str]]:
    """The console's queue and ticket pages: the server's time per request (median of 5
    after one warm-up) beside the raw SQL of the same answer."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bots.keys import CONFIG, STORE
    from bots.web import console
    from bots.web.console.pages import filter_of
    from tickets import queries, staff_store
    from tickets.staff import StaffRole

    served: list[tuple[float, float]] = []  # wall and CPU milliseconds per request

    @web.middleware
    async def clock(request: web.Request, handler: Any) -> web.StreamResponse:
        # CPU time too: on a shared machine the wall time includes waiting for a core.
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return await handler(request)
        finally:
            served.append(
                ((time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000)
            )

    # The console alone on the bench store: the whole service would start its scheduler,
    # which would escalate the bench's old open tickets while we measure.
    app = web.Application(middlewares=[clock])
    app[CONFIG], app[STORE] = config, store
    console.setup(app)
    moment = datetime.now(ZoneInfo("UTC"))
    if staff_store.member(store, "bench") is None:
        staff_store.add(store, "bench", "bench", StaffRole.LEAD, "bench-password-1", moment)
    conn = store.db.conn
    area, category = conn.execute("SELECT area, category FROM tickets LIMIT 1").fetchone()
    week = (END.astimezone(ZoneInfo(config.timezone)).date() - timedelta(days=7)).isoformat()
    closed = queries.page(store, queries.TicketFilter(states=("closed",)), limit=50)
    values = {
        "@area": area,
        "@group": category.split(".")[0],
        "@week": week,
        "@cursor": closed.next_cursor or "",
    }
    out: list[tuple[str, str, str, str, str]] = []
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        form = await client.get("/console/login")
        token = (await form.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await client.post(
            "/console/login", data={"csrf": token, "login": "bench", "password": "bench-password-1"}
        )

        async def server_ms(path: str, params: dict[str, str]) -> tuple[float, str]:
            samples = []
            for i in range(6):
                answer = await client.get(path, params=params)
                assert answer.status == 200, (path, answer.status)
                await answer.read()
                if i:
                    samples.append(served[-1])
            wall = statistics.median(s[0] for s in samples)
            return wall, f"{wall:.1f} (cpu {statistics.median(s[1] for s in samples):.1f})"

        for label, raw_params in QUEUES:
            params = {k: values.get(v, v) for k, v in raw_params.items()}
            mine, shown = await server_ms("/console", params)
            flt, sort = filter_of(_Query(params), config)
            sql, args = queries.statement(
                flt, sort=sort, after=params.get("after"), limit=51, now=moment
            )
            base, _ = timed(lambda q=sql, a=args: conn.execute(q, a).fetchall())
            out.append((label, shown, f"{base:.1f}", f"{base / mine:.2f}x", "< 20 ms"))
        number = closed.tickets[0].number
        mine, shown = await server_ms(f"/console/ticket/{number}", {})
        base, _ = timed(lambda: raw_ticket(conn, number))
        label = f"ticket page {number}"
        out.append((label, shown, f"{base:.1f}", f"{base / mine:.2f}x", "< 10 ms"))
    return out


class _Query(dict[str, str]):
    """A plain dict with the ``getall`` of aiohttp's query mapping (for filter_of)."""

    def getall(self, key: str, default: list[str]) -> list[str]:
        return [self[key]] if key in self else default


def raw_ticket(conn: sqlite3.Connection, number: str) -> Any:
    ticket = conn.execute("SELECT * FROM tickets WHERE number = ?", [number]).fetchone()
    channel, chat = conn.execute(
        "SELECT reporter_channel, reporter_chat FROM tickets WHERE number = ?", [number]
    ).fetchone()
    return (
        ticket,
        conn.execute("SELECT * FROM events WHERE number = ? ORDER BY id", [number]).fetchall(),
        conn.execute("SELECT * FROM outbox WHERE number = ? ORDER BY id", [number]).fetchall(),
        conn.execute(
            "SELECT * FROM tickets WHERE reporter_channel = ? AND reporter_chat = ?"
            " ORDER BY created_at DESC, number DESC LIMIT 20",
            [channel, chat],
        ).fetchall(),
    )


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
