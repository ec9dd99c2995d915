"""The chat rows as the store reads and writes them (``tickets.chat_rows``): inside one
write transaction a chat is read once, the next transaction asks only whether another
connection committed meanwhile, and a save changes only what changed — but never is a
row answered from memory after a write that memory did not make, after a rollback,
after another connection's commit, or outside a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from conftest import NOW
from rules_support import say

from bots.engine import Engine
from config.model import Config
from conversation.events import Button
from tickets import chat_rows
from tickets.rows import ChatRecord
from tickets.store import Store


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store.db.conn.set_trace_callback(None)


def sent(seen: list[str]) -> list[str]:
    """The statements the store sent (FTS5's and triggers' own "-- " ones left out)."""
    return [s for s in seen if not s.startswith("--")]


def test_a_report_step_is_four_statements(store: Store, config: Config) -> None:
    engine = Engine(store, config)
    say(engine, "web", "alice", "/report")
    say(engine, "web", "alice", Button("i:cat:water"))
    say(engine, "web", "alice", Button("i:area:east"))  # incidents and outages read here
    # The area is known: the step asks for incidents and outages again (the mark of
    # fault_changes, twice), and for the chat's language and binding: all of it as the
    # last step left it, unless another connection committed since.
    with statements(store) as seen:
        say(engine, "web", "alice", Button("i:bld:b1"))
    kinds = [" ".join(s.split()[:2]) for s in sent(seen)]
    assert kinds == ["BEGIN IMMEDIATE", "PRAGMA data_version", "UPDATE chats", "COMMIT"], seen
    # Only the dialogue (and the time) is written: the binding and its index are left be.
    saved = sent(seen)[2]
    assert saved.startswith("UPDATE chats SET dialogue = ") and "person" not in saved


def test_a_chat_is_read_once_per_transaction(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    with store.transaction(), statements(store) as seen:
        assert store.chat("web", "alice").locale == "en"
        assert store.chat("web", "alice").locale == "en"
        store.save_chat(replace(store.chat("web", "alice"), dialogue="{}"), NOW)
        assert store.chat("web", "alice").dialogue == "{}"
    assert len([s for s in seen if "FROM chats" in s or "JOIN chats" in s]) == 1, seen


def test_outside_a_transaction_every_read_reads(store: Store, config: Config) -> None:
    store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    assert store.chat("web", "alice").locale == "en"
    other = Store(config.database, config)  # another process
    try:
        other.save_chat(ChatRecord("web", "alice", locale="zh_CN"), NOW)
    finally:
        other.close()
    assert store.chat("web", "alice").locale == "zh_CN"


def test_a_write_by_another_statement_is_read_again(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    with store.transaction():
        assert store.chat("web", "alice").locale == "en"
        store.db.conn.execute("UPDATE chats SET locale = 'zh_CN' WHERE chat = 'alice'")
        assert store.chat("web", "alice").locale == "zh_CN"
        # A save after it compares with what is there, not with what was read first.
        store.save_chat(replace(store.chat("web", "alice"), locale="en"), NOW)
    assert store.chat("web", "alice").locale == "en"


def test_a_save_rolled_back_to_its_savepoint_is_forgotten(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", dialogue="a"), NOW)
    with store.transaction():
        store.save_chat(replace(store.chat("web", "alice"), dialogue="b"), NOW)
        with pytest.raises(RuntimeError), store.transaction():
            store.save_chat(replace(store.chat("web", "alice"), dialogue="c"), NOW)
            assert store.chat("web", "alice").dialogue == "c"
            raise RuntimeError("undone")
        assert store.chat("web", "alice").dialogue == "b"
        # The save that follows writes the whole change against the row as it is.
        store.save_chat(replace(store.chat("web", "alice"), locale="en"), NOW)
    assert store.chat("web", "alice") == ChatRecord("web", "alice", dialogue="b", locale="en")


def test_a_transaction_rolled_back_leaves_nothing_remembered(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.save_chat(ChatRecord("web", "new", dialogue="x"), NOW)
        assert store.chat("web", "new").dialogue == "x"
        raise RuntimeError("undone")
    with store.transaction():
        assert store.chat("web", "new") == ChatRecord("web", "new")
        store.save_chat(ChatRecord("web", "new", locale="en"), NOW)  # no row: inserted
    assert store.chat("web", "new") == ChatRecord("web", "new", locale="en")
    [row] = store.query("SELECT updated_at FROM chats WHERE chat = 'new'")
    assert row["updated_at"] == "2026-11-23T08:00:00.000000+00:00"


def test_a_save_of_every_column_writes_every_column(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice"), NOW)
    changed = ChatRecord("web", "alice", "{}", "en", "technician", "li", "+8613800000000")
    with store.transaction():
        store.chat("web", "alice")
        store.save_chat(changed, NOW)
    assert store.chat("web", "alice") == changed
    assert [r["chat"] for r in store.query("SELECT chat FROM chats WHERE person = 'li'")] == [
        "alice"
    ]


def test_a_step_that_changes_nothing_writes_nothing(store: Store, config: Config) -> None:
    engine = Engine(store, config)
    with statements(store) as seen:
        say(engine, "web", "alice", "/help")  # a new chat: its row is made
    assert [s for s in sent(seen) if s.startswith("INSERT INTO chats")], seen
    made = store.chat("web", "alice")
    with statements(store) as seen:
        say(engine, "web", "alice", "/help", NOW.replace(hour=9))
    assert [" ".join(s.split()[:2]) for s in sent(seen)] == [
        "BEGIN IMMEDIATE",
        "PRAGMA data_version",
        "COMMIT",
    ], seen
    assert store.chat("web", "alice") == made
    # A step that changes the dialogue writes it, as before.
    say(engine, "web", "alice", "/report")
    assert store.chat("web", "alice").dialogue != made.dialogue


def test_the_next_transaction_asks_only_whether_another_connection_wrote(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    with store.transaction():
        assert store.chat("web", "alice").locale == "en"
    with store.transaction(), statements(store) as seen:
        assert store.chat("web", "alice").locale == "en"
        assert store.fault_mark() == store.query("SELECT mark FROM fault_changes")[0]["mark"]
    assert [s for s in sent(seen) if "chats" in s or "fault_changes" in s] == [
        "SELECT mark FROM fault_changes"
    ], seen
    assert "PRAGMA data_version" in seen


def test_another_connections_commit_is_read_in_the_next_transaction(
    store: Store, config: Config
) -> None:
    store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    with store.transaction():
        assert store.chat("web", "alice").locale == "en"
        mark = store.fault_mark()
    other = Store(config.database, config)  # another process
    try:
        other.save_chat(ChatRecord("web", "alice", locale="zh_CN", person="li"), NOW)
        other.db.conn.execute("UPDATE fault_changes SET mark = mark + 1")
    finally:
        other.close()
    with store.transaction():
        assert store.chat("web", "alice") == ChatRecord("web", "alice", locale="zh_CN", person="li")
        assert store.fault_mark() == mark + 1
        # The save compares with the row as the other connection left it.
        store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    assert store.query("SELECT locale, person FROM chats") == [{"locale": "en", "person": None}]


def test_a_write_of_this_connection_between_transactions_is_read(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    with store.transaction():
        assert store.chat("web", "alice").locale == "en"
    store.db.conn.execute("UPDATE chats SET locale = 'zh_CN' WHERE chat = 'alice'")
    with store.transaction():
        assert store.chat("web", "alice").locale == "zh_CN"


def test_a_save_without_a_read_is_not_trusted_by_the_next_transaction(
    store: Store, config: Config
) -> None:
    with store.transaction():  # a save alone learns no data_version to check it by
        store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    other = Store(config.database, config)
    try:
        other.save_chat(ChatRecord("web", "alice", locale="zh_CN"), NOW)
    finally:
        other.close()
    with store.transaction():
        assert store.chat("web", "alice").locale == "zh_CN"


def test_a_rolled_back_transaction_forgets_what_the_one_before_read(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", dialogue="a"), NOW)
    with store.transaction():
        store.chat("web", "alice")
    with pytest.raises(RuntimeError), store.transaction():
        store.save_chat(ChatRecord("web", "alice", dialogue="b"), NOW)
        raise RuntimeError("undone")
    with store.transaction(), statements(store) as seen:
        assert store.chat("web", "alice").dialogue == "a"
    assert [s for s in sent(seen) if "JOIN chats" in s], seen


def test_what_is_remembered_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_rows, "MAX_KNOWN", 3)
    with store.transaction():
        for n in range(10):
            store.chat("web", f"c{n}")
        store.save_chat(ChatRecord("web", "new"), NOW)
        assert len(store._chats._known) <= 3
    with store.transaction():
        assert store.chat("web", "c9") == ChatRecord("web", "c9")
        assert store.chat("web", "new") == ChatRecord("web", "new")
