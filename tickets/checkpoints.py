"""WAL checkpoints on a thread of their own, so that no message's commit waits for one.

SQLite copies the write-ahead log back into the database file (a checkpoint) from inside
the COMMIT that finds the log longer than ``wal_autocheckpoint`` pages: with
``synchronous = NORMAL`` that is two fsyncs plus every changed page, 5–50 ms on a shared
disk, paid by whichever dialogue step happened to commit then (on the event loop, for
the channels that commit there). Measured with bench/flow.py's scripts: a dialogue
step's COMMIT averaged 110 µs with the automatic checkpoint and 50 µs without, a new
ticket's 2.1 ms and 1.0 ms.

A server's store turns this on (``Store.checkpoint_in_background``): a thread with a
connection of its own runs a PASSIVE checkpoint every ``interval`` seconds — PASSIVE
never waits for, nor blocks, a reader or a writer; the copy and the fsyncs run with the
GIL released. The automatic checkpoint stays as a safety net at a larger threshold, in
case the thread falls behind (a reader holding an old snapshot for long).

Must not: touch the store's own connection or lock, or raise out of the thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL_S = 0.1
SAFETY_PAGES = 10_000
"""``wal_autocheckpoint`` while the thread runs (SQLite's default is 1,000 pages)."""


class Checkpointer:
    """One thread checkpointing the database at ``path`` until ``stop``."""

    def __init__(self, path: Path, *, interval: float = INTERVAL_S, timeout: float = 5.0) -> None:
        self._path = path
        self._interval = interval
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baoxiu-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(
                str(self._path),
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as error:
            log.warning("no background checkpoints for %s: %s", self._path, error)
            return
        try:
            while not self._stop.wait(self._interval):
                self._checkpoint(conn)
            self._checkpoint(conn)  # what the last commits wrote, before the store closes
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:  # locked or busy: the next round tries again
            log.debug("checkpoint of %s skipped: %s", self._path, error)
