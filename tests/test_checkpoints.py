"""WAL checkpoints on a thread of their own (``tickets.checkpoints``): what the store
commits reaches the database file without any commit checkpointing, and closing the
store stops the thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from conftest import NOW

from config.model import Config
from tickets.checkpoints import SAFETY_PAGES
from tickets.rows import ChatRecord
from tickets.store import Store


def in_the_file(path: Path) -> set[str]:
    """The chats as the database file holds them, the write-ahead log left unread."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT chat FROM chats")}
    except sqlite3.OperationalError:  # not even the tables yet: the migrations are logged
        return set()
    finally:
        conn.close()


def threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_commits_reach_the_file_from_the_thread(config: Config) -> None:
    store = Store(config.database, config)
    try:
        store.checkpoint_in_background()
        store.checkpoint_in_background()  # once is enough: no second thread
        assert [t for t in threading.enumerate() if t.name == "baoxiu-checkpoints"]
        # The commits themselves no longer checkpoint at SQLite's 1,000 pages.
        [(pages,)] = store.db.conn.execute("PRAGMA wal_autocheckpoint").fetchall()
        assert pages == SAFETY_PAGES
        store.save_chat(ChatRecord("web", "alice"), NOW)
        deadline = time.monotonic() + 10
        while "alice" not in in_the_file(config.database):
            assert time.monotonic() < deadline, "never checkpointed"
            time.sleep(0.05)
    finally:
        store.close()
    assert "baoxiu-checkpoints" not in threads()


def test_a_store_without_it_keeps_sqlites_checkpoints(config: Config) -> None:
    store = Store(config.database, config)
    try:
        [(pages,)] = store.db.conn.execute("PRAGMA wal_autocheckpoint").fetchall()
        assert pages == 8000  # SQLite's own, at the store's setting (tickets.store.TUNING)
        assert "baoxiu-checkpoints" not in threads()
    finally:
        store.close()
