"""The marks of load, bindings, the search batch and known faults (``tickets.marks``):
read once per transaction and kept across the store's own transactions — so a new ticket
reads none of the mark tables — yet never answered from memory after this connection
moved one (its TEMP triggers tell), after another connection's commit, after a
rollback, or outside a transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import NOW, draft

from config.model import Config
from tickets.store import Store

TABLES = {
    "load": "load_changes",
    "binding": "binding_changes",
    "search": "search_mark",
    "fault": "fault_changes",
}


def stored(store: Store, name: str) -> int:
    column = "indexed" if name == "search" else "mark"
    return int(store.query(f"SELECT {column} FROM {TABLES[name]}")[0][column])


def test_a_new_ticket_reads_no_mark_once_they_are_known(store: Store) -> None:
    store.create_ticket(draft(chat="c0"), NOW)
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        for i in range(1, 4):
            # A day apart: no two make an incident (whose write would move its mark).
            store.create_ticket(draft(chat=f"c{i}"), NOW + timedelta(days=i))
    finally:
        store.db.conn.set_trace_callback(None)
    reads = [s for s in seen if s.startswith("SELECT") and any(t in s for t in TABLES.values())]
    assert reads == [], reads
    assert seen.count("PRAGMA data_version") == 3  # one a transaction: did another write?


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_mark_this_connection_moves_is_read_again_in_the_same_transaction(
    store: Store, name: str
) -> None:
    column = "indexed" if name == "search" else "mark"
    with store.transaction():
        before = store.mark(name) if name != "fault" else store.fault_mark()
        store.db.conn.execute(f"UPDATE {TABLES[name]} SET {column} = {column} + 1")
        after = store.mark(name) if name != "fault" else store.fault_mark()
    assert after == before + 1 == stored(store, name)


@pytest.mark.parametrize("name", ["load", "binding", "search"])
def test_another_connections_commit_is_read_in_the_next_transaction(
    store: Store, config: Config, name: str
) -> None:
    column = "indexed" if name == "search" else "mark"
    with store.transaction():
        before = store.mark(name)
    other = Store(config.database, config)  # another process
    try:
        other.db.conn.execute(f"UPDATE {TABLES[name]} SET {column} = {column} + 5")
    finally:
        other.close()
    with store.transaction():
        assert store.mark(name) == before + 5


def test_a_rolled_back_move_is_forgotten(store: Store) -> None:
    with store.transaction():
        before = store.mark("load")
    with pytest.raises(RuntimeError), store.transaction():
        store.db.conn.execute("UPDATE load_changes SET mark = mark + 1")
        assert store.mark("load") == before + 1
        raise RuntimeError("undone")
    with store.transaction():
        assert store.mark("load") == before == stored(store, "load")


def test_outside_a_transaction_every_mark_is_read(store: Store) -> None:
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        store.mark("binding")
        store.mark("binding")
    finally:
        store.db.conn.set_trace_callback(None)
    assert seen.count("SELECT mark FROM binding_changes WHERE id = 1") == 2
