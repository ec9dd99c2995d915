"""The store's memory of incidents and outages (``tickets.incident_store.known_faults``)
and the dialogue step's statements: a step reads them again only after a write of either
table, by any connection, and never answers from a write that was rolled back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import NOW
from rules_support import bind, say

from bots.engine import Engine
from config.model import Config
from conversation.events import Button
from tickets.store import Store

KNOWN = "计划停电/停水通知"


@pytest.fixture
def engine(store: Store, config: Config) -> Engine:
    bind(store, "web", "wang-chat", "dispatcher", "wang", "zh_CN")
    return Engine(store, config)


@pytest.fixture
def other(config: Config) -> Iterator[Engine]:
    """Another process's engine: its own connection to the same file."""
    store = Store(config.database, config)
    yield Engine(store, config)
    store.close()


def start_report(engine: Engine, chat: str) -> str:
    say(engine, "web", chat, "/report")
    say(engine, "web", chat, Button("i:cat:water"))
    return say(engine, "web", chat, Button("i:area:east"))


def test_an_outage_published_by_another_connection_is_told_at_the_next_step(
    engine: Engine, other: Engine
) -> None:
    assert KNOWN not in start_report(engine, "alice")  # read (none) and remembered
    say(other, "web", "wang-chat", "/outage add east water 11-23T15:00 11-23T20:00 管道施工")
    told = say(engine, "web", "alice", Button("i:bld:b1"))
    assert KNOWN in told and "管道施工" in told


def test_a_cancelled_outage_is_not_told(engine: Engine, other: Engine) -> None:
    say(engine, "web", "wang-chat", "/outage add east water 11-23T15:00 11-23T20:00 施工")
    assert KNOWN in start_report(engine, "alice")
    say(other, "web", "wang-chat", "/outage cancel 1")
    assert KNOWN not in start_report(engine, "bob")


def test_a_rolled_back_outage_is_never_told(engine: Engine, store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        say(engine, "web", "wang-chat", "/outage add east water 11-23T15:00 11-23T20:00 甲施工")
        assert "甲施工" in start_report(engine, "alice")  # seen inside its transaction
        raise RuntimeError("undone")
    # The next write must not bring back what the undone one was remembered as.
    say(engine, "web", "wang-chat", "/outage add east water 11-23T15:00 11-23T20:00 乙施工")
    told = start_report(engine, "carol")
    assert "乙施工" in told and "甲施工" not in told


def test_an_earlier_now_reads_again(engine: Engine) -> None:
    say(engine, "web", "wang-chat", "/outage add east water 11-23T15:00 11-23T20:00 施工")
    later = NOW + timedelta(hours=6)  # after the window: the outage is over
    say(engine, "web", "alice", "/report", later)
    say(engine, "web", "alice", Button("i:cat:water"), later)
    assert KNOWN not in say(engine, "web", "alice", Button("i:area:east"), later)
    assert KNOWN in start_report(engine, "bob")  # at NOW, inside the window


def test_a_dialogue_step_reads_no_incidents_or_outages_while_none_was_written(
    engine: Engine, store: Store
) -> None:
    start_report(engine, "alice")
    said: list[str] = []
    store.db.conn.set_trace_callback(said.append)
    try:
        say(engine, "web", "alice", Button("i:bld:b1"))
    finally:
        store.db.conn.set_trace_callback(None)
    assert not [s for s in said if "FROM incidents" in s or "FROM outages" in s], said
    # The chat is saved by one statement inside the step's transaction, no savepoint.
    assert not [s for s in said if s.startswith(("SAVEPOINT", "RELEASE"))], said
    assert [s.split()[0] for s in said if s.startswith(("BEGIN", "COMMIT"))] == [
        "BEGIN",
        "COMMIT",
    ]


def test_a_step_rolled_back_leaves_the_chat_as_it_was(engine: Engine, store: Store) -> None:
    start_report(engine, "alice")
    before = store.chat("web", "alice")
    with pytest.raises(RuntimeError), store.transaction():
        say(engine, "web", "alice", Button("i:bld:b1"))
        assert store.chat("web", "alice").dialogue != before.dialogue
        raise RuntimeError("undone")
    assert store.chat("web", "alice") == before
