"""What a new ticket costs when its team is big: 200 technicians, each with a bound chat.

Every ticket is offered to the whole team (claim mode). The store writes the ticket, its
event and the offer as ONE outbox row per channel the members are bound on, which the
channel's delivery worker fans out into one row per member's chat (issue 11). Prints, in
the same run on the same database file:

- baoxiu: ``Store.create_ticket`` tickets/s (one ``BEGIN IMMEDIATE`` transaction each),
  the SQL statements and rows it writes per ticket (``set_trace_callback``);
- raw: the very rows baoxiu wrote (tickets, events, outbox, timers, …), inserted again
  (renumbered) into the same file by plain ``executemany``, one transaction per ticket,
  with the other rows baoxiu writes for a ticket: its search-index row, its statistics
  upserts (day and month), its reporter's chat and the day's number (as
  ``bench/scale.py``'s raw side); and, as a note, the ticket-numbered rows alone. The raw
  connection has the store's settings (``tickets.store.TUNING``). Search rows are written
  as baoxiu writes them (``tickets.search.filed``): those of ``BATCH`` new tickets at once,
  with the mark, in the transaction of the ticket whose rowid completes the batch;
- the ratio baoxiu / raw, and tickets/s against issue 11's goal (≥ 1,000 tickets/s);
- the fan-out at delivery: one ``notice_rows.expand`` pass over the offers, per offer.

``--on N`` runs on a copy of the cached N-ticket database of ``bench/data.py`` (a big
database: its indexes are deep, as in production); without it, on a fresh file.

``--background-checkpoints``: both sides copy the write-ahead log into the database on a
thread of their own (``tickets.checkpoints``, as a server's store does:
``Store.checkpoint_in_background``) instead of inside whichever commit finds the log
long. Both sides or neither: the ratio measures the work, not the tuning. Its CPU time
is the process's, so the thread's is counted on each side.

Usage: ``python bench/fanout.py [--tickets 2000] [--members 200] [--on 1000000]
[--background-checkpoints]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import CACHE, END, ensure, team_config
from tickets import notice_rows, search, stats
from tickets.checkpoints import SAFETY_PAGES, Checkpointer
from tickets.model import Draft
from tickets.rows import ChatRecord, iso, ticket_from_row
from tickets.store import TUNING, Store

START = END + timedelta(days=1)  # after every ticket of the cached databases


def draft(i: int) -> Draft:
    return Draft(
        category="water.leak",
        phone=f"+86138{i:08d}",
        description="卫生间水管漏水",
        reporter_channel="web",
        reporter_chat=f"r{i}",
        area="east",
        building="b1",
        spot=f"{100 + i % 50}",
    )


def baoxiu(path: Path, tickets: int, members: int, background: bool) -> dict[str, float]:
    """Tickets/s, statements and rows per ticket of ``Store.create_ticket``, and the
    seconds the delivery's fan-out of those offers takes."""
    config = replace(team_config(members=members), database=path)
    store = Store(path, config)
    if background:
        store.checkpoint_in_background()
    try:
        for i, person in enumerate(config.teams[0].members):
            store.save_chat(
                ChatRecord("telegram", str(10_000 + i), role="technician", person=person), START
            )
        outbox_before = _count(store, "outbox")
        statements = 0

        def count(_sql: str) -> None:
            nonlocal statements
            statements += 1

        began = time.perf_counter()
        cpu = time.process_time()
        store.db.conn.set_trace_callback(count)
        for i in range(tickets):
            store.create_ticket(draft(i), START + timedelta(seconds=i))
        store.db.conn.set_trace_callback(None)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu
        outbox_rows = _count(store, "outbox") - outbox_before
    finally:
        store.close()
    return {
        "rate": tickets / elapsed,
        "cpu_rate": tickets / cpu,
        "statements": statements / tickets,
        "outbox": outbox_rows / tickets,
    }


def fan_out(path: Path, tickets: int, members: int) -> tuple[float, float]:
    """Milliseconds per offer of the delivery's fan-out, and member rows per offer."""
    config = replace(team_config(members=members), database=path)
    with Store(path, config) as store:
        before = _count(store, "outbox")
        began = time.perf_counter()
        notice_rows.expand(store, "telegram", START + timedelta(seconds=tickets))
        fanned = time.perf_counter() - began
        return fanned / tickets * 1e3, (_count(store, "outbox") - before) / tickets


def _count(store: Store, table: str) -> int:
    return int(store.db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def rows_of(
    path: Path, since: dict[str, int], prefix: str
) -> dict[str, list[tuple[str, list[str], list]]]:
    """The rows written after ``since`` (table → max rowid), grouped by ticket number,
    renumbered with ``prefix``."""
    src = sqlite3.connect(path)
    by_ticket: dict[str, list[tuple[str, list[str], list]]] = {}
    for table, rowid in since.items():
        # Generated columns are computed by SQLite on both sides, never inserted; ids
        # come from the table.
        info = src.execute(f"PRAGMA table_xinfo({table})")
        columns = [c[1] for c in info if c[6] == 0 and c[1] != "id"]
        cursor = src.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid", [rowid]
        )
        at = columns.index("number")
        key = columns.index("key") if "key" in columns else None
        grouped: dict[str, list[list[object]]] = {}
        for row in cursor:
            copy = list(row)
            copy[at] = f"{prefix}{row[at]}"  # renumbered: the raw side writes new tickets
            if key is not None:
                copy[key] = f"{prefix}{row[key]}"
            grouped.setdefault(str(row[at]), []).append(copy)
        for number, rows in grouped.items():
            by_ticket.setdefault(number, []).append((table, columns, rows))
    src.close()
    return by_ticket


def tables_with_numbers(path: Path) -> dict[str, int]:
    """Tables that hold rows of a ticket → their current max rowid."""
    db = sqlite3.connect(path)
    found = {}
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = [c[1] for c in db.execute(f"PRAGMA table_xinfo({name})")]
        if "number" in columns:
            found[name] = db.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {name}").fetchone()[0]
    db.close()
    return found


def derived_rows(path: Path, config_zone: str) -> dict[str, list[tuple[str, str, list]]]:
    """The other rows baoxiu writes for each new ticket, as statements of the raw side:
    its search-index row, its statistics upserts (day and month), its reporter's chat
    and its day's number (``bench/scale.py``'s raw side writes these too)."""
    zone = ZoneInfo(config_zone)
    src = sqlite3.connect(path, isolation_level=None)
    src.execute("BEGIN IMMEDIATE")  # the last, incomplete batch's rows, to read them too
    search.catch_up(src)
    src.execute("COMMIT")
    src.row_factory = sqlite3.Row
    out: dict[str, list[tuple[str, str, list]]] = {}
    cursor = src.execute(
        "SELECT t.rowid AS rowid_, t.*, s.uni, s.bi FROM tickets AS t"
        " JOIN ticket_search AS s ON s.rowid = t.rowid WHERE t.created_at >= ?",
        [iso(START)],
    )
    for row in cursor:
        ticket = ticket_from_row(dict(row))
        days = list(stats.contribution(stats.facts_of(ticket, None), zone).items())
        months = [((d, day[:7], v, k, b), cell) for (d, day, v, k, b), cell in days]
        statements = [
            (
                "INSERT INTO ticket_search (rowid, uni, bi) VALUES (?, ?, ?)",
                "search",
                [row["uni"], row["bi"]],
            ),
            *(
                (
                    _UPSERT.format(table=table, period=period, marks=_marks(len(cells))),
                    table,
                    [value for key, (n, total) in cells for value in (*key, n, total)],
                )
                for table, period, cells in (
                    ("stats_rollup", "day", days),
                    ("stats_month", "month", months),
                )
            ),
            (
                _CHAT,
                "chats",
                [
                    row["reporter_channel"],
                    f"R{row['reporter_chat']}",
                    row["phone"],
                    row["created_at"],
                ],
            ),
            (_DAY, "day_seq", []),
        ]
        out[row["number"]] = statements
    src.close()
    return out


_UPSERT = (
    "INSERT INTO {table} (dim, {period}, value, key, bucket, n, total) VALUES {marks}"
    " ON CONFLICT (dim, {period}, value, key, bucket) DO UPDATE"
    " SET n = n + excluded.n, total = total + excluded.total"
)
_CHAT = (
    "INSERT INTO chats (channel, chat, last_phone, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (channel, chat) DO UPDATE SET last_phone = excluded.last_phone,"
    " updated_at = excluded.updated_at"
)
_DAY = (
    "INSERT INTO day_seq (day, last) VALUES ('29990101', 1)"
    " ON CONFLICT (day) DO UPDATE SET last = last + 1 RETURNING last"
)


def _marks(rows: int) -> str:
    return ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)


def raw(
    path: Path,
    by_ticket: dict[str, list[tuple[str, list[str], list]]],
    derived: dict[str, list[tuple[str, str, list]]] | None = None,
    background: bool = False,
) -> tuple[float, float]:
    """Tickets/s inserting the rows baoxiu wrote (per ticket, one transaction each);
    with ``derived``, its search, statistics, chat and day-number rows too;
    ``background``: with the checkpoints on a thread, as ``Store.checkpoint_in_background``."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    for pragma in TUNING:  # the store's connection settings: the ratio measures the work
        db.execute(pragma)
    checkpoints = Checkpointer(path) if background else None
    if checkpoints is not None:  # as Store.checkpoint_in_background does
        db.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_PAGES}")
        checkpoints.start()
    [(mark,)] = db.execute("SELECT indexed FROM search_mark").fetchall()
    pending: list[list[object]] = []  # search rows of the batch being filled
    began = time.perf_counter()
    cpu = time.process_time()
    for number, batches in by_ticket.items():
        db.execute("BEGIN IMMEDIATE")
        for table, columns, rows in batches:
            marks = ", ".join("?" * len(columns))
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            if table == "tickets" and derived is not None:
                [row] = rows  # one ticket: its rowid is the search row's
                rowid = int(db.execute(insert, row).lastrowid or 0)
                for sql, what, params in derived[number]:
                    if what != "search":
                        db.execute(sql, params).fetchall()
                        continue
                    pending.append([rowid, *params])
                    if rowid - mark >= search.BATCH:  # as tickets.search.filed
                        db.executemany(sql, pending)
                        db.execute("UPDATE search_mark SET indexed = ?", [rowid])
                        mark, pending = rowid, []
            else:
                db.executemany(insert, rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    if checkpoints is not None:  # its last checkpoint is not timed (nor is baoxiu's)
        checkpoints.stop()
    db.close()
    return len(by_ticket) / elapsed, len(by_ticket) / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--on", type=int, default=0, help="cached database of N tickets")
    parser.add_argument(
        "--background-checkpoints",
        action="store_true",
        help="both sides checkpoint on a thread of their own, as a server's store does",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=CACHE if args.on else None) as tmp:
        path = Path(tmp) / "fanout.db"
        if args.on:
            shutil.copyfile(ensure(args.on), path)
            with path.open("rb+") as copied:  # flushed now, not inside a measured commit
                os.fsync(copied.fileno())
        else:
            Store(path, team_config(members=args.members)).close()
        since = tables_with_numbers(path)
        background = args.background_checkpoints
        ours = baoxiu(path, args.tickets, args.members, background)
        written = rows_of(path, since, "R")
        again = rows_of(path, since, "S")
        derived = derived_rows(path, team_config(members=args.members).timezone)
        fanout_ms, member_rows = fan_out(path, args.tickets, args.members)
        theirs, theirs_cpu = raw(path, written, derived, background)
        subset, subset_cpu = raw(path, again, background=background)
    where = f"a copy of the {args.on:,}-ticket database" if args.on else "a fresh database"
    where += ", checkpoints on a thread" if args.background_checkpoints else ""
    print(f"new tickets offered to a bound team of {args.members} ({args.tickets} on {where}):")
    print(
        f"  baoxiu: {ours['rate']:>8,.0f} tickets/s ({ours['cpu_rate']:,.0f}/s of CPU time),"
        f" {ours['statements']:.1f} SQL statements and {ours['outbox']:.1f} outbox rows"
        " per ticket"
    )
    print(
        f"  raw insert of the same rows, one tx per ticket: {theirs:>8,.0f} tickets/s"
        f" ({theirs_cpu:,.0f}/s of CPU time)"
    )
    print(
        f"  ratio baoxiu/raw: {ours['rate'] / theirs:.2f} (CPU time:"
        f" {ours['cpu_rate'] / theirs_cpu:.2f}); {ours['rate']:,.0f} tickets/s against the"
        " goal of ≥ 1,000"
    )
    print(
        f"  (note: the raw insert of the ticket-numbered rows alone — tickets, events, outbox,"
        f" timers — without the search, statistics, chat and day-number rows:"
        f" {subset:,.0f} tickets/s ({subset_cpu:,.0f}/s of CPU time), ratio"
        f" {ours['rate'] / subset:.2f} (CPU time: {ours['cpu_rate'] / subset_cpu:.2f}))"
    )
    print(
        f"  at delivery: fan-out into {member_rows:.0f} member rows per offer takes"
        f" {fanout_ms:.2f} ms per offer (then one send per member)"
    )


if __name__ == "__main__":
    main()
