"""What a new ticket costs when its team is big: 200 technicians, each with a bound chat.

Every ticket is offered to the whole team (claim mode). The store writes the ticket, its
event and the offer as ONE outbox row per channel the members are bound on, which the
channel's delivery worker fans out into one row per member's chat (issue 11). Prints, in
the same run on the same database file:

- baoxiu: ``Store.create_ticket`` tickets/s (one ``BEGIN IMMEDIATE`` transaction each),
  the SQL statements and rows it writes per ticket (``set_trace_callback``);
- raw: the very rows baoxiu wrote (tickets, events, outbox, timers, …), inserted again
  (renumbered) into the same file by plain ``executemany``, one transaction per ticket;
- the ratio baoxiu / raw, and tickets/s against issue 11's goal (≥ 1,000 tickets/s);
- the fan-out at delivery: one ``notice_rows.expand`` pass over the offers, per offer.

``--on N`` runs on a copy of the cached N-ticket database of ``bench/data.py`` (a big
database: its indexes are deep, as in production); without it, on a fresh file.

Usage: ``python bench/fanout.py [--tickets 2000] [--members 200] [--on 1000000]``.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import CACHE, END, ensure, team_config
from tickets import notice_rows
from tickets.model import Draft
from tickets.rows import ChatRecord
from tickets.store import Store

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


def baoxiu(path: Path, tickets: int, members: int) -> dict[str, float]:
    """Tickets/s, statements and rows per ticket of ``Store.create_ticket``, and the
    seconds the delivery's fan-out of those offers takes."""
    config = replace(team_config(members=members), database=path)
    store = Store(path, config)
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


def rows_of(path: Path, since: dict[str, int]) -> dict[str, list[tuple[str, list[str], list]]]:
    """The rows written after ``since`` (table → max rowid), grouped by ticket number."""
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
            copy[at] = f"R{row[at]}"  # renumbered: the raw side writes new tickets
            if key is not None:
                copy[key] = f"R{row[key]}"
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


def raw(path: Path, by_ticket: dict[str, list[tuple[str, list[str], list]]]) -> tuple[float, float]:
    """Tickets/s inserting the rows baoxiu wrote (per ticket, one transaction each)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    began = time.perf_counter()
    cpu = time.process_time()
    for batches in by_ticket.values():
        db.execute("BEGIN IMMEDIATE")
        for table, columns, rows in batches:
            marks = ", ".join("?" * len(columns))
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    db.close()
    return len(by_ticket) / elapsed, len(by_ticket) / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--on", type=int, default=0, help="cached database of N tickets")
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
        ours = baoxiu(path, args.tickets, args.members)
        written = rows_of(path, since)
        fanout_ms, member_rows = fan_out(path, args.tickets, args.members)
        theirs, theirs_cpu = raw(path, written)
    where = f"a copy of the {args.on:,}-ticket database" if args.on else "a fresh database"
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
        f"  at delivery: fan-out into {member_rows:.0f} member rows per offer takes"
        f" {fanout_ms:.2f} ms per offer (then one send per member)"
    )


if __name__ == "__main__":
    main()
