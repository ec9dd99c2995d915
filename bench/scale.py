"""How baoxiu's reads, export and ticket creation hold up at a utility's scale (issue 11).

On the cached database of ``bench/data.py`` (default 1,000,000 tickets; built on first
use, minutes) this prints, for each line, baoxiu's number, the raw SQLite number for the
same answer measured in the same run on the same file, and the ratio as the headline:

- list queries (median of repeated runs): ``tickets list --state closed``, open tickets
  of an area, overdue, the console queue with several filters × both sorts, a later page
  via its cursor, the store's own lists (queue, jobs, a reporter's tickets). Raw: the
  same SELECT on a plain ``sqlite3`` connection, rows as tuples (no Ticket objects);
  for the classic lists also the plain ``WHERE … ORDER BY … LIMIT`` a person would write;
- export: ``tickets export`` (its ``write_csv``) vs a bare ``csv.writer`` over one
  cursor of the same columns as stored (UTF-8 with BOM, same line ends) — wall and CPU
  time and peak RSS (VmHWM), each in its own process;
- new tickets (built-in config, one transaction each) on a copy of the database: baoxiu's
  ``Store.create_ticket`` vs inserting the very rows it wrote (ticket, events, outbox,
  timers, flags, chat, day_seq, its search-index row and statistics-rollup upsert), one
  transaction each, with raw ``executemany``-free SQL (search rows in batches, with the
  mark, as ``tickets.search.filed`` writes them).

Usage: ``python bench/scale.py [--tickets N] [--create N] [--skip-export] [--export-runs N]
[--only lists|export|create]`` (``make scale`` runs the 1M default; ``--only`` runs one part).
No assertions: the numbers go into the closing note.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import END, TECHNICIANS, base_config, ensure, team_config
from bots.cli.tickets import FIELDS, export_batches, write_csv
from config.model import Config
from tickets import queries, search, stats
from tickets.model import OPEN_STATES, Draft
from tickets.queries import TicketFilter
from tickets.store import TUNING, Store

OPEN = tuple(sorted(s.value for s in OPEN_STATES))


def timed(func: Callable[[], object], runs: int) -> float:
    """Median seconds of ``runs`` calls (after one warm-up call)."""
    func()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def line(what: str, ours: float, raw: float, unit: str = "ms") -> None:
    scale = 1e3 if unit == "ms" else 1.0
    ratio = ours / raw
    print(
        f"  {what:<52} {ours * scale:9.2f} {unit} | raw {raw * scale:9.2f} {unit} | ×{ratio:6.2f}"
    )


def bench_lists(store: Store, raw: sqlite3.Connection, runs: int) -> None:
    print("lists (median; ratio = baoxiu time / raw time, lower is better)")
    now = END
    cases: list[tuple[str, TicketFilter, str]] = [
        ("CLI list --state closed (newest 50)", TicketFilter(states=("closed",)), "newest"),
        ("open tickets of area east (newest 50)", TicketFilter(states=OPEN, area="east"), "newest"),
        ("overdue, deadline order (50)", TicketFilter(overdue=True), "deadline"),
        ("console: open, deadline", TicketFilter(states=OPEN), "deadline"),
        ("console: open, newest", TicketFilter(states=OPEN), "newest"),
        ("console: technician t007, newest", TicketFilter(technician="t007"), "newest"),
        (
            "console: technician t007 open, deadline",
            TicketFilter(states=OPEN, technician="t007"),
            "deadline",
        ),
        (
            "console: west + high priority, newest",
            TicketFilter(area="west", priority="high"),
            "newest",
        ),
        (
            "console: west + high priority, deadline",
            TicketFilter(area="west", priority="high"),
            "deadline",
        ),
        (
            "console: water, open, overdue, newest",
            TicketFilter(states=OPEN, category="water", overdue=True),
            "newest",
        ),
        (
            "console: web channel, last 7 days, newest",
            TicketFilter(channel="web", created_from=now - timedelta(days=7)),
            "newest",
        ),
        (
            "console: closed in building b2, deadline",
            TicketFilter(states=("closed",), building="b2"),
            "deadline",
        ),
    ]
    for name, flt, sort in cases:
        sql, params = queries.statement(flt, sort=sort, limit=51, now=now)
        ours = timed(lambda flt=flt, sort=sort: queries.page(store, flt, sort=sort, now=now), runs)
        base = timed(lambda sql=sql, params=params: raw.execute(sql, params).fetchall(), runs)
        line(name, ours, base)
    # A later page: the 20th page of closed tickets, through its cursor.
    flt = TicketFilter(states=("closed",))
    after = None
    for _ in range(19):
        after = queries.page(store, flt, after=after).next_cursor
    sql, params = queries.statement(flt, after=after, limit=51)
    ours = timed(lambda: queries.page(store, flt, after=after), runs)
    line(
        "CLI list --state closed, page 20 via cursor",
        ours,
        timed(lambda: raw.execute(sql, params).fetchall(), runs),
    )
    # The plain queries a person would write for the classic lists.
    plain = [
        (
            "plain: state = closed ORDER BY created_at DESC 50",
            lambda: queries.page(store, TicketFilter(states=("closed",))),
            "SELECT * FROM tickets WHERE state = 'closed'"
            " ORDER BY created_at DESC, number DESC LIMIT 50",
        ),
        (
            "store.open_tickets(area=east) (200, oldest first)",
            lambda: store.open_tickets(area="east"),
            f"SELECT * FROM tickets WHERE state IN {OPEN} AND area = 'east'"
            " ORDER BY created_at, number LIMIT 200",
        ),
        (
            "store.overdue(now) (200)",
            lambda: store.overdue(now),
            "SELECT * FROM tickets WHERE (state = 'new' AND claim_due < :t) OR (state = 'assigned'"
            " AND arrive_due < :t) OR (state IN ('on_site', 'paused') AND resolve_due < :t)"
            " ORDER BY created_at LIMIT 200",
        ),
        (
            "store.queue() (dispatcher, 20)",
            lambda: store.queue(),
            f"SELECT * FROM tickets WHERE holder IS NULL AND state IN {OPEN}"
            " ORDER BY created_at, number LIMIT 20",
        ),
        (
            "store.jobs_of(t007) (50)",
            lambda: store.jobs_of("t007"),
            f"SELECT * FROM tickets WHERE holder = 't007' AND state IN {OPEN}"
            " ORDER BY created_at, number LIMIT 50",
        ),
        (
            "store.tickets_of(web, r42) (10)",
            lambda: store.tickets_of("web", "r42"),
            "SELECT * FROM tickets WHERE reporter_channel = 'web' AND reporter_chat = 'r42'"
            " ORDER BY created_at DESC LIMIT 10",
        ),
    ]
    args: dict[str, Any] = {"t": now.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")}
    for name, ours_call, sql in plain:
        line(
            name,
            timed(ours_call, runs),
            timed(lambda sql=sql: raw.execute(sql, args).fetchall(), runs),
        )


def export_child(kind: str, db: str, out: str) -> None:
    """Run in a child process: one export, then print seconds, peak RSS (MB) during the
    export, rows, CPU seconds and the process's peak RSS including its imports."""
    imports = _peak_mb()
    # Peak RSS of the export itself: reset VmHWM to the current RSS (Linux ≥ 4.0) once
    # the modules are imported (importing this script peaks at ~120 MB, then settles).
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    cpu_started = time.process_time()
    with open(out, "wb") as stream:
        if kind == "baoxiu":
            config = replace(team_config(), database=Path(db))
            with Store(db, config) as store:
                count = write_csv(config, export_batches(store), stream.write)
        else:
            conn = sqlite3.connect(db)
            text = open(out, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
            writer = csv.writer(text, lineterminator="\r\n")
            # The same columns, in the export's order, as they are stored.
            cursor = conn.execute(
                f"SELECT {', '.join(FIELDS)} FROM tickets ORDER BY created_at DESC, number DESC"
            )
            writer.writerow([d[0] for d in cursor.description])
            count = 0
            for row in cursor:
                writer.writerow(row)
                count += 1
            text.close()
    peak = _peak_mb()
    cpu = time.process_time() - cpu_started
    print(f"{time.perf_counter() - started} {peak} {count} {cpu} {max(peak, imports)}")


def _peak_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which starts afresh with the exec (Linux
    carries ru_maxrss over from the parent, whose list benches were the peak)."""
    with contextlib.suppress(OSError):
        for text in Path("/proc/self/status").read_text().splitlines():
            if text.startswith("VmHWM:"):
                return int(text.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_export(db: Path, runs: int) -> None:
    print(
        "export of every ticket (own process each; ratio = baoxiu / raw csv.writer;"
        f" the best of {runs} alternating runs each side: the machine is shared)"
    )
    results: dict[str, tuple[float, float, int, int, float, float]] = {}
    for kind in ("raw", "baoxiu") * runs:
        out = db.with_name(f"export-{kind}.csv")
        done = subprocess.run(
            [sys.executable, __file__, "--export-child", kind, str(db), str(out)],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds, peak, count, cpu, total = done.stdout.split()
        this = (float(seconds), float(peak), int(count), out.stat().st_size, float(cpu))
        best = results.get(kind)
        results[kind] = (
            min(this[0], best[0]) if best else this[0],
            max(this[1], best[1]) if best else this[1],
            this[2],
            this[3],
            min(this[4], best[4]) if best else this[4],
            max(float(total), best[5]) if best else float(total),
        )
        out.unlink()
    (rs, rp, rc, rb, rcpu, rt), (bs, bp, bc, bb, bcpu, bt) = results["raw"], results["baoxiu"]
    print(
        f"  {'time, ' + str(bc) + ' tickets':<52} {bs:9.2f} s  | raw {rs:9.2f} s  | ×{bs / rs:6.2f}"
    )
    print(f"  {'CPU time':<52} {bcpu:9.2f} s  | raw {rcpu:9.2f} s  | ×{bcpu / rcpu:6.2f}")
    what = "peak RSS of the export (VmHWM)"
    print(f"  {what:<52} {bp:9.1f} MB | raw {rp:9.1f} MB | ×{bp / rp:6.2f}")
    print(
        f"  (peak RSS of the whole process, imports included: baoxiu {bt:.1f} MB, raw {rt:.1f} MB)"
    )
    print(f"  (bytes written: baoxiu {bb:,}, raw {rb:,}; rows {bc:,} / {rc:,})")


def bench_create(db: Path, config: Config, count: int) -> None:
    print(f"new tickets, built-in config, one transaction each ({count} each side)")
    scratch = db.with_name("scratch.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(db, scratch)
    # Flush the copy now: else the first checkpoint's fsync writes the whole fresh 1 GB
    # copy inside one of baoxiu's commits (18 ms a ticket, a bench artefact).
    with scratch.open("rb+") as copied:
        os.fsync(copied.fileno())
    config = replace(config, database=scratch)
    leaves = [leaf.code for g in config.categories for leaf in g.children]
    with Store(scratch, config) as store:
        conn = store.db.conn
        before = {t: conn.execute(f"SELECT MAX(rowid) FROM {t}").fetchone()[0] or 0 for t in TABLES}
        started = time.perf_counter()
        at = END + timedelta(days=1)
        places = [(a.code, b.code) for a in config.areas for b in a.buildings]
        for i in range(count):
            area, building = places[i % len(places)]
            draft = Draft(
                category=leaves[i % len(leaves)],
                phone="+8613812345678",
                description=f"bench {i}",
                reporter_channel="web",
                reporter_chat=f"bench{i}",
                area=area,
                building=building,
                spot=str(i),
            )
            # 5 min apart: the built-in config has 2 areas and 12 categories, so at the
            # data's city-wide rate (one per 30 s) the same fault would repeat in an area
            # every 12 min and the rules would propose an incident every few tickets
            # (rows the raw side does not write). The incident count is printed.
            store.create_ticket(draft, at + timedelta(seconds=300 * i))
        ours = time.perf_counter() - started
        with store.transaction():  # the last, incomplete batch's search rows, to read them
            search.catch_up(conn)
        # The same rows, read back, inserted again by hand: one transaction per ticket.
        written = {t: _rows_after(conn, t, before[t]) for t in TABLES}
        incidents = conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]
        # The search index and the statistics rollup move with every ticket too: the raw
        # side writes the same search row and upserts the same rollup rows (computed
        # here, outside its timing).
        zone = ZoneInfo(config.timezone)
        extra: dict[str, tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = {}
        for ticket_row_ in written["tickets"]:
            number = ticket_row_["number"]
            search_row = conn.execute(
                "SELECT uni, bi FROM ticket_search WHERE rowid ="
                " (SELECT rowid FROM tickets WHERE number = ?)",
                [number],
            ).fetchone()
            facts = stats.facts_of(store.get(number), None)
            rollup = [(*k, n, total) for k, (n, total) in stats.contribution(facts, zone).items()]
            extra[number] = (tuple(search_row), rollup)
    raw = sqlite3.connect(str(scratch), isolation_level=None)
    raw.execute("PRAGMA synchronous = NORMAL")
    for pragma in TUNING:  # the store's connection settings: the ratio measures the work
        raw.execute(pragma)
    by_number: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for table, rows in written.items():
        for row in rows:
            by_number.setdefault(row["number"], {}).setdefault(table, []).append(row)
    [(mark,)] = raw.execute("SELECT indexed FROM search_mark").fetchall()
    pending: list[list[Any]] = []  # search rows of the batch being filled
    started = time.perf_counter()
    for number, tables in by_number.items():
        raw.execute("BEGIN IMMEDIATE")
        raw.execute(
            "INSERT INTO day_seq (day, last) VALUES ('29990101', 1)"
            " ON CONFLICT (day) DO UPDATE SET last = last + 1 RETURNING last"
        ).fetchone()
        for table, rows in tables.items():
            for row in rows:
                copy = {**row, "number": f"R{number}"}
                if table == "outbox":
                    copy["key"] = f"R{row['key']}"
                names = ", ".join(copy)
                cursor = raw.execute(
                    f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(copy))})",
                    list(copy.values()),
                )
                if table == "tickets":
                    search_row, rollup = extra[number]
                    # Search rows as baoxiu writes them (tickets.search.filed): a batch
                    # at once, with the mark, when a rowid completes one.
                    rowid = int(cursor.lastrowid or 0)
                    pending.append([rowid, *search_row])
                    if rowid - mark >= search.BATCH:
                        raw.executemany(
                            "INSERT INTO ticket_search (rowid, uni, bi) VALUES (?, ?, ?)",
                            pending,
                        )
                        raw.execute("UPDATE search_mark SET indexed = ?", [rowid])
                        mark, pending = rowid, []
                    raw.execute(
                        "INSERT INTO stats_rollup (dim, day, value, key, bucket, n, total)"
                        f" VALUES {', '.join(['(?, ?, ?, ?, ?, ?, ?)'] * len(rollup))}"
                        " ON CONFLICT (dim, day, value, key, bucket) DO UPDATE"
                        " SET n = n + excluded.n, total = total + excluded.total",
                        [value for row_ in rollup for value in row_],
                    )
                    # The month rows move with the day rows (stats_month).
                    raw.execute(
                        "INSERT INTO stats_month (dim, month, value, key, bucket, n, total)"
                        f" VALUES {', '.join(['(?, ?, ?, ?, ?, ?, ?)'] * len(rollup))}"
                        " ON CONFLICT (dim, month, value, key, bucket) DO UPDATE"
                        " SET n = n + excluded.n, total = total + excluded.total",
                        [value for d, day, *rest in rollup for value in (d, day[:7], *rest)],
                    )
        ticket = tables["tickets"][0]
        raw.execute(
            "INSERT INTO chats (channel, chat, last_phone, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (channel, chat) DO UPDATE SET last_phone = excluded.last_phone,"
            " updated_at = excluded.updated_at",
            [
                ticket["reporter_channel"],
                ticket["reporter_chat"],
                ticket["phone"],
                ticket["created_at"],
            ],
        )
        raw.execute("COMMIT")
    base = time.perf_counter() - started
    raw.close()
    rows_each = sum(len(r) for r in written.values()) / count
    what = f"tickets/s ({rows_each:.1f} rows each, {incidents} incidents)"
    ratio = base / ours
    print(f"  {what:<52} {count / ours:9.0f} /s | raw {count / base:9.0f} /s | ×{ratio:6.2f}")
    print("  (tickets/s: higher is better; the ratio is baoxiu / raw)")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)


TABLES = ("tickets", "events", "outbox", "timers", "ticket_flags")


def _rows_after(conn: sqlite3.Connection, table: str, rowid: int) -> list[dict[str, Any]]:
    stored = [
        r[1] for r in conn.execute(f"PRAGMA table_xinfo({table})") if r[6] == 0 and r[1] != "id"
    ]
    cursor = conn.execute(f"SELECT {', '.join(stored)} FROM {table} WHERE rowid > ?", [rowid])
    return [dict(zip(stored, row, strict=True)) for row in cursor]


def main() -> None:
    parser = argparse.ArgumentParser(description="baoxiu at a million tickets")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--create", type=int, default=2000)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--export-runs", type=int, default=3)
    parser.add_argument("--export-child", nargs=3, metavar=("KIND", "DB", "OUT"))
    parser.add_argument("--only", choices=("lists", "export", "create"), help="run one part")
    args = parser.parse_args()
    if args.export_child:
        export_child(*args.export_child)
        return
    db = ensure(args.tickets)
    config = replace(base_config(), database=db)
    print(f"database: {db} ({args.tickets:,} tickets, {len(TECHNICIANS)} technicians)")
    if args.only in (None, "lists"):
        with Store(db, config) as store:
            raw = sqlite3.connect(str(db))
            bench_lists(store, raw, args.runs)
            raw.close()
    if args.only == "export" or (args.only is None and not args.skip_export):
        bench_export(db, args.export_runs)
    if args.create and args.only in (None, "create"):
        bench_create(db, config, args.create)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
