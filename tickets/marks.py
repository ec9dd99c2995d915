"""The marks that say whether what the store remembers of a team's load, a team's bound
channels, the search batch and the known faults is still true (``load_changes``,
``binding_changes``, ``search_mark``, ``fault_changes``), known by the store's connection
across its own transactions instead of read at each use.

Each mark is a one-row table moved on every write of what it watches (triggers of
migrations engine_0001, fan_0002 and fan2_0001; ``tickets.search`` moves ``search_mark``).
A new ticket read all four, one statement each (issue 11; the fault mark comes with a
chat's read in a dialogue step, ``tickets.chat_rows``, but a new ticket's writes came
before it). Here:

- this connection's own writes that move a mark are seen as they happen: a TEMP trigger
  on each mark table (a TEMP trigger fires for this connection's writes only) calls back
  into Python, and the mark is forgotten;
- another connection's commit moves ``PRAGMA data_version`` (per connection, it moves
  exactly when another connection commits): it is asked once per transaction
  (``Marks.version``, for the chat rows of ``tickets.chat_rows`` too), or comes with the
  first chat read, which also brings the fault mark (``Marks.learn``); everything is
  forgotten if it moved;
- a rollback (of the transaction, or to a savepoint) forgets everything.

Must not: answer from memory outside the store's write transaction (another process may
write at any time), after another connection's commit, or after a rollback.
"""

from __future__ import annotations

import sqlite3

_TABLES = {
    "load": "load_changes",
    "binding": "binding_changes",
    "search": "search_mark",
    "fault": "fault_changes",
}
_READS = {
    "fault": "SELECT mark FROM fault_changes WHERE id = 1",
    "load": "SELECT mark FROM load_changes WHERE id = 1",
    "binding": "SELECT mark FROM binding_changes WHERE id = 1",
    "search": "SELECT indexed FROM search_mark",
}
_MOVED = "baoxiu_mark_moved"


class Marks:
    """One connection's marks; the store calls it under its lock, saying whether a
    transaction of its own is open (``remember``)."""

    def __init__(self) -> None:
        self._known: dict[str, int] = {}
        self._version: int | None = None  # data_version when _known was last true
        self._now: int | None = None  # data_version in this transaction, once asked

    def watch(self, conn: sqlite3.Connection) -> None:
        """Hear of this connection's writes to the mark tables (once they exist)."""
        conn.create_function(_MOVED, 1, self._moved)
        for name, table in _TABLES.items():
            for verb in ("INSERT", "UPDATE", "DELETE"):
                conn.execute(
                    f"CREATE TEMP TRIGGER IF NOT EXISTS baoxiu_{table}_{verb.lower()}"
                    f" AFTER {verb} ON main.{table} BEGIN SELECT {_MOVED}('{name}'); END"
                )

    def _moved(self, name: str) -> None:
        self._known.pop(name, None)

    def learn(self, name: str, mark: int, version: int | None) -> None:
        """Inside the store's write transaction: ``mark`` was read by another statement
        of it, with the connection's data_version (a chat's read brings the fault mark:
        tickets.chat_rows)."""
        self._now = version
        self._check()
        self._known[name] = mark

    def begin(self) -> None:
        """At a transaction's start: what is remembered is checked at its first use."""
        self._now = None

    def version(self, conn: sqlite3.Connection) -> int:
        """Inside the store's write transaction: the connection's data_version, asked
        once (no other connection commits during BEGIN IMMEDIATE). The one check of
        another connection's commits for the marks and the chat rows (tickets.chat_rows)."""
        if self._now is None:
            self._now = int(conn.execute("PRAGMA data_version").fetchone()[0])
        return self._now

    def _check(self) -> None:
        if self._now != self._version:
            self._known.clear()
            self._version = self._now

    def forget(self) -> None:
        """After a rollback: a mark read after a write now undone would be wrong."""
        self._known.clear()
        self._version = None

    def read(self, conn: sqlite3.Connection, name: str, *, remember: bool) -> int:
        if not remember:
            return int(conn.execute(_READS[name]).fetchone()[0])
        self.version(conn)
        self._check()
        mark = self._known.get(name)
        if mark is None:
            mark = self._known[name] = int(conn.execute(_READS[name]).fetchone()[0])
        return mark
