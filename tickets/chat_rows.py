"""The ``chats`` rows (dialogue, language, binding, last phone) as the store reads and
writes them, remembering inside write transactions what it already read.

Every inbound message costs one dialogue step, and most channels look at the chat more
than once around it (its language, its binding, the dialogue itself): each of those
reads was a statement, and the step's save rewrote every column of the row (and so the
``chats_person`` index) to change the dialogue. Inside a ``BEGIN IMMEDIATE``
transaction no other connection can write, so a row read once stays true until this
connection writes something (``total_changes`` moves) or rolls back to a savepoint; the
store forgets everything then, and when a transaction rolls back.

What a committed transaction read or wrote is kept for the next one: SQLite's
``data_version`` (per connection) moves exactly when another connection commits, so the
next transaction asks for it once (``PRAGMA data_version``, far cheaper than reading the
row: a chat's next message finds its row remembered) and forgets everything if it moved.
Outside a transaction nothing is remembered nor answered from memory (another process
may write at any time).

The mark of ``fault_changes`` (``tickets.incident_store``) comes with the first chat
read of a transaction, in the same statement (a report's step asks for it twice), and is
handed to the store's ``tickets.marks``, which keeps every mark.

Must not: answer from memory outside a write transaction, or after another connection's
commit, or from a write that was rolled back; grow without bound (``MAX_KNOWN``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields

from tickets.marks import Marks
from tickets.rows import ChatRecord

FIELDS = tuple(f.name for f in fields(ChatRecord))
_KEY = ("channel", "chat")
_VALUES = tuple(name for name in FIELDS if name not in _KEY)
_COLUMNS = ", ".join(FIELDS)
_READ = f"SELECT {_COLUMNS} FROM chats WHERE channel = ? AND chat = ?"
# One row always (fault_changes holds exactly one), the chat's columns NULL when it has none.
# The connection's data_version comes along, so what is read can be trusted next time.
_VERSION = "(SELECT data_version FROM pragma_data_version)"
_READ_WITH_MARK = (
    f"SELECT f.mark, {_VERSION}, {', '.join('c.' + name for name in FIELDS)}"
    " FROM fault_changes AS f"
    " LEFT JOIN chats AS c ON c.channel = ? AND c.chat = ? WHERE f.id = 1"
)
MAX_KNOWN = 4096
"""Chats remembered at most (a busy server's recent chats; more are read again)."""
_UPSERT = (
    f"INSERT INTO chats ({_COLUMNS}, updated_at) VALUES ({', '.join('?' for _ in FIELDS)}, ?)"
    " ON CONFLICT (channel, chat) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_VALUES, "updated_at"))
)
_UPDATES: dict[tuple[str, ...], str] = {}


def with_dialogue(record: ChatRecord, dialogue: str | None) -> ChatRecord:
    """``replace(record, dialogue=dialogue)`` at every step's save, without its walk over
    the fields: a copy of every field (so a field added later is kept), one changed."""
    copy = object.__new__(ChatRecord)
    copy.__dict__.update(record.__dict__)
    copy.__dict__["dialogue"] = dialogue  # frozen: set as dataclasses.replace's __init__ would
    return copy


def _update(changed: tuple[str, ...]) -> str:
    """An UPDATE of only the columns that changed (an unchanged ``person`` left alone
    leaves its index alone: half the cost of rewriting the whole row)."""
    sql = _UPDATES.get(changed)
    if sql is None:
        sets = ", ".join(f"{name} = ?" for name in (*changed, "updated_at"))
        sql = _UPDATES[changed] = f"UPDATE chats SET {sets} WHERE channel = ? AND chat = ?"
    return sql


class ChatRows:
    """One connection's chat rows; the store calls it under its lock, saying whether a
    transaction of its own is open (``remember``)."""

    def __init__(self, marks: Marks) -> None:
        self._marks = marks  # where the fault mark read with a chat goes
        self._known: dict[tuple[str, str], ChatRecord | None] = {}  # None: no row
        self._stamp: int | None = None  # total_changes when _known was last true
        self._version: int | None = None  # data_version when _known was last true
        self._checked = False  # data_version compared in this transaction

    def begin(self) -> None:
        """At a transaction's start: what is remembered is checked at its first use."""
        self._checked = False

    def forget(self) -> None:
        """After a rollback (of a transaction or to a savepoint: ``total_changes`` does not
        go back, without this a row undone would still be remembered)."""
        self._known.clear()
        self._stamp = None
        self._version = None

    def _valid(self, conn: sqlite3.Connection) -> dict[tuple[str, str], ChatRecord | None]:
        stamp = conn.total_changes
        if stamp != self._stamp or (not self._checked and not self._still_true(conn)):
            self.forget()
            self._stamp = stamp
        self._checked = True
        return self._known

    def _still_true(self, conn: sqlite3.Connection) -> bool:
        """Whether what an earlier transaction left is still true: no other connection
        committed since (unknown when nothing was read with its data_version: not)."""
        if not self._known:
            return True  # nothing to check
        return self._version is not None and self._marks.version(conn) == self._version

    def read(
        self, conn: sqlite3.Connection, channel: str, chat: str, *, remember: bool
    ) -> ChatRecord:
        if not remember:
            row = conn.execute(_READ, (channel, chat)).fetchone()
            return ChatRecord(*row) if row else ChatRecord(channel, chat)
        known = self._valid(conn)
        key = (channel, chat)
        if key in known:
            found = known[key]
        else:
            mark, self._version, *row = conn.execute(_READ_WITH_MARK, key).fetchone()
            if len(known) >= MAX_KNOWN:
                known.clear()
            found = known[key] = ChatRecord(*row) if row[0] is not None else None
            self._marks.learn("fault", int(mark), self._version)
        return found if found is not None else ChatRecord(channel, chat)

    def write(self, conn: sqlite3.Connection, record: ChatRecord, updated_at: str) -> None:
        """Inside the store's transaction (one statement needs no savepoint of its own:
        SQLite undoes a failed one whole)."""
        known = self._valid(conn)
        key = (record.channel, record.chat)
        before = known.get(key)
        done = False
        if before is not None:  # the row is there, as remembered
            changed = tuple(n for n in _VALUES if getattr(record, n) != getattr(before, n))
            values = [*(getattr(record, n) for n in changed), updated_at, *key]
            done = conn.execute(_update(changed), values).rowcount == 1
        if not done:
            conn.execute(_UPSERT, [*(getattr(record, n) for n in FIELDS), updated_at])
        if len(known) >= MAX_KNOWN:
            known.clear()
        known[key] = record
        self._stamp = conn.total_changes  # this write is what moved it
