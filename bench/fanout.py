"""What a new ticket costs when its team is big: 200 technicians, each with a bound chat.

Every ticket is offered to the whole team (claim mode), so the store writes the ticket,
its event and one outbox row per member's chat. Prints, in the same run on the same data:

- baoxiu: ``Store.create_ticket`` tickets/s (one ``BEGIN IMMEDIATE`` transaction each) and
  the SQL statements it runs per ticket (counted with ``set_trace_callback``);
- raw: the very rows baoxiu wrote (tickets, events, outbox, timers, …), inserted again
  into a fresh copy of the schema with ``executemany``, one transaction per ticket;
- the ratio baoxiu / raw as the headline (issue 11's goals: ≥ 0.6 and ≥ 1,000 tickets/s).

Usage: ``python bench/fanout.py [--tickets 2000] [--members 200]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import team_config
from tickets.model import Draft
from tickets.rows import ChatRecord
from tickets.store import Store

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


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


def baoxiu(path: Path, tickets: int, members: int) -> tuple[float, float, float]:
    """Tickets/s and SQL statements per ticket of ``Store.create_ticket``."""
    config = team_config(members=members)
    store = Store(path, config)
    try:
        for i, person in enumerate(config.teams[0].members):
            store.save_chat(
                ChatRecord("telegram", str(10_000 + i), role="technician", person=person), START
            )
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
    finally:
        store.close()
    return tickets / elapsed, tickets / cpu, statements / tickets


def raw(source: Path, target: Path, members: int) -> tuple[float, float, int]:
    """Tickets/s inserting the rows baoxiu wrote (per ticket, one transaction each)."""
    Store(target, team_config(members=members)).close()  # the same migrated schema
    src = sqlite3.connect(source)
    tables = [
        name
        for (name,) in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if "number" in [c[1] for c in src.execute(f"PRAGMA table_info({name})")]
    ]
    by_ticket: dict[str, list[tuple[str, list[str], list[tuple[object, ...]]]]] = {}
    rows_total = 0
    for table in tables:
        # Generated columns are computed by SQLite on both sides, never inserted.
        info = src.execute(f"PRAGMA table_xinfo({table})")
        columns = [c[1] for c in info if c[6] == 0]
        cursor = src.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
        at = columns.index("number")
        grouped: dict[str, list[tuple[object, ...]]] = {}
        for row in cursor:
            grouped.setdefault(str(row[at]), []).append(row)
            rows_total += 1
        for number, rows in grouped.items():
            by_ticket.setdefault(number, []).append((table, columns, rows))
    src.close()
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
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
    return len(by_ticket) / elapsed, len(by_ticket) / cpu, rows_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours, ours_cpu, statements = baoxiu(folder / "baoxiu.db", args.tickets, args.members)
        theirs, theirs_cpu, rows = raw(folder / "baoxiu.db", folder / "raw.db", args.members)
    per = rows / args.tickets
    print(f"new tickets offered to a bound team of {args.members} ({args.tickets} tickets):")
    print(
        f"  baoxiu: {ours:>8,.0f} tickets/s ({ours_cpu:,.0f}/s of CPU time),"
        f" {statements:.1f} SQL statements per ticket"
    )
    print(
        f"  raw insert of the same rows ({per:.1f} per ticket): {theirs:>8,.0f} tickets/s"
        f" ({theirs_cpu:,.0f}/s of CPU time)"
    )
    print(
        f"  ratio baoxiu/raw: {ours / theirs:.2f} (CPU time: {ours_cpu / theirs_cpu:.2f});"
        " goal ≥ 0.6 and ≥ 1,000 tickets/s"
    )


if __name__ == "__main__":
    main()
