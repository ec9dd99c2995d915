"""Issue 11, what a new ticket writes.

- The index diet of migration fan3_0001 (fewer pages per commit) keeps every look-up of
  the creation path in index order — no full scan, no sort of every match (the checker
  of test_queries).
- New tickets are indexed for search in batches (tickets.search.filed), yet a search
  finds each as soon as it is committed, and none is lost when the process dies
  between batches."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from conftest import NOW, draft
from test_queries import insert, plan_problems, sample

from config.model import Config
from tickets import incident_store, search
from tickets.store import Store

HERE = Path(__file__).resolve().parent


def test_the_creation_look_ups_read_in_index_order(store: Store) -> None:
    tickets = sample()
    insert(store, tickets)
    ticket = replace(tickets[0], latitude=31.2, longitude=121.4)
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        incident_store.mine(store, ticket)
        for by in ("area", "building"):
            incident_store.recent(store, ticket, 60, by=by, radius_m=100)
        nowhere = replace(ticket, area="", building="")
        incident_store.recent(store, nowhere, 60, by="area", radius_m=100)
        store.open_duplicate("web", "alice", "water.leak", "302", NOW - timedelta(days=1))
        store.followers(ticket.number)
    finally:
        store.db.conn.set_trace_callback(None)
    selects = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) >= 6
    problems = [p for sql in selects for p in plan_problems(store.db.conn, sql, [])]
    assert not problems, "\n".join(problems)


def test_a_new_ticket_is_in_fewer_indexes(store: Store) -> None:
    """The holder's and the masters' indexes are partial (a new ticket has neither), and
    the ones whose reads others serve are gone."""
    conn = store.db.conn
    listed = {row[1]: row[4] for row in conn.execute("PRAGMA index_list(tickets)")}
    for partial in ("tickets_holder_newest", "tickets_holder_due", "tickets_master"):
        assert listed[partial] == 1, partial
    for gone in ("tickets_state_team", "tickets_category_area", "tickets_reporter_newest"):
        assert gone not in listed
    timers = {row[1] for row in conn.execute("PRAGMA index_list(timers)")}
    assert "timers_number" not in timers
    number = store.create_ticket(draft(), NOW).number
    assert store.timeline(number)  # and filing still works end to end


def indexed(store: Store) -> set[int]:
    return {row["rowid"] for row in store.query("SELECT rowid FROM ticket_search")}


def found(store: Store, text: str) -> list[str]:
    return [t.number for t in search.search(store, text, limit=100).tickets]


def test_a_new_ticket_is_found_at_once_though_its_batch_is_not_complete(store: Store) -> None:
    number = store.create_ticket(draft(description="阳台地漏堵了"), NOW).number
    assert indexed(store) == set()  # waits for its batch…
    assert found(store, "地漏") == [number]  # …but a search indexes it first
    assert indexed(store) == {1}
    [(mark,)] = store.db.conn.execute("SELECT indexed FROM search_mark").fetchall()
    assert mark == 1


def test_a_complete_batch_is_indexed_as_it_is_filed(store: Store) -> None:
    for i in range(search.BATCH + 3):
        store.create_ticket(draft(chat=f"c{i}", description=f"{i}号楼漏水"), NOW)
    assert indexed(store) == set(range(1, search.BATCH + 1))
    assert len(found(store, "漏水")) == search.BATCH + 3


def test_no_ticket_is_lost_when_the_process_dies_between_batches(
    store: Store, config: Config
) -> None:
    """A child files BATCH + 5 tickets and is SIGKILLed without closing its store: the
    five above the last batch were committed but never indexed; they are found."""
    child = f"""
import os, signal, sys
sys.path[:0] = [{str(HERE)!r}, {str(HERE.parent)!r}]
from pathlib import Path
from conftest import NOW, draft, make_config
from tickets.store import Store
store = Store({str(config.database)!r}, make_config(Path({str(config.database.parent)!r})))
for i in range({search.BATCH + 5}):
    store.create_ticket(draft(chat=f"k{{i}}", description=f"第{{i}}户 暖气片漏水"), NOW)
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    with Store(config.database, config) as again:
        assert len(indexed(again)) == search.BATCH
        numbers = {row["number"] for row in again.query("SELECT number FROM tickets")}
        assert len(numbers) == search.BATCH + 5
        assert set(found(again, "暖气片")) == numbers


def test_a_rowid_handed_out_again_is_indexed_at_once(store: Store) -> None:
    """The newest row deleted by hand: SQLite gives its rowid to the next ticket, which
    lies below the mark, so it is indexed as it is filed (over the stale entry)."""
    for i in range(search.BATCH):
        store.create_ticket(draft(chat=f"c{i}", description="厨房漏水"), NOW)
    store.db.execute("DELETE FROM tickets WHERE rowid = ?", [search.BATCH])
    again = store.create_ticket(draft(chat="z", description="门锁坏了"), NOW).number
    [(rowid,)] = store.db.conn.execute(
        "SELECT rowid FROM tickets WHERE number = ?", [again]
    ).fetchall()
    assert rowid == search.BATCH
    [(uni,)] = store.db.conn.execute(
        "SELECT uni FROM ticket_search WHERE rowid = ?", [rowid]
    ).fetchall()
    assert "锁" in uni
    assert found(store, "门锁") == [again]
    assert again not in found(store, "厨房")


def test_a_batch_reads_only_its_own_rows(store: Store) -> None:
    """The batch's reads are ranges of rowids and of its numbers' events: at a million
    tickets a scan of any index of tickets took ~0.1 s per batch (with statistics like
    theirs: ANALYZEd)."""
    insert(store, sample())
    with store.transaction():
        search.catch_up(store.db.conn)
    store.db.conn.execute("ANALYZE")
    for i in range(3):
        store.create_ticket(draft(chat=f"c{i}", description="厨房漏水"), NOW + timedelta(days=2))
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        with store.transaction():
            assert search.catch_up(store.db.conn) == 3
    finally:
        store.db.conn.set_trace_callback(None)
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3
    for sql in selects:
        plan = [row[3] for row in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        scans = [step for step in plan if step.startswith(("SCAN tickets", "SCAN events"))]
        assert not scans, (sql, plan)


def test_the_resolved_jobs_are_read_through_the_partial_events_index(store: Store) -> None:
    """events_at holds the resolve events only (fan3_0003): the console's one reader of
    it still searches it rather than every event."""
    from tickets import console_store

    store.create_ticket(draft(), NOW)
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        console_store.resolved_since(store, NOW - timedelta(days=1))
    finally:
        store.db.conn.set_trace_callback(None)
    [sql] = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    plan = [row[3] for row in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert any("USING INDEX events_at" in step for step in plan), plan
    listed = {row[1]: row[4] for row in store.db.conn.execute("PRAGMA index_list(events)")}
    assert listed["events_at"] == 1  # partial


def test_a_search_while_another_process_writes_answers_from_the_index(
    store: Store, config: Config
) -> None:
    """The catch-up needs the write lock: held elsewhere beyond the busy timeout, the
    search answers from what is indexed instead of failing, and finds the rest later."""
    number = store.create_ticket(draft(description="阳台地漏堵了"), NOW).number
    other = sqlite3.connect(config.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store.db.conn.execute("PRAGMA busy_timeout = 50")
    try:
        assert found(store, "地漏") == []
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert found(store, "地漏") == [number]
