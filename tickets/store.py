"""The SQLite store (sqlite-utils 4, WAL, synchronous=NORMAL).

Each state change, its event row and its outbox rows are written in one transaction
(``BEGIN IMMEDIATE``, so concurrent writers in other processes queue on the lock
instead of failing on a stale snapshot). Ticket numbers come from a per-day sequence
row updated inside that transaction: ``BX20261123-0007``, never reused.

The rules of the ticket life are not here (``tickets.workflow``), nor who is told what
(``tickets.notices``): the store reads, calls them, and writes what they return. It
sends nothing. Times are stored as fixed-width ISO-8601 UTC text, so text order is time
order in SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from config.model import Config
from tickets import (
    dispatch_store,
    filing,
    migrations,
    notice_rows,
    queries,
    search,
    stats,
    workflow,
)
from tickets.chat_rows import ChatRows
from tickets.checkpoints import SAFETY_PAGES, Checkpointer
from tickets.dbfile import private_file
from tickets.dispatch_notices import revise
from tickets.errors import BaoxiuError, InvalidInput, TicketNotFound
from tickets.incident_store import KnownFaults, RuleStore
from tickets.marks import Marks
from tickets.model import OPEN_STATES, Action, Actor, Draft, Event, State, Ticket
from tickets.notices import Notice, follower_notices, notices_for
from tickets.rows import (
    ChatRecord,
    OutboxRow,
    chat_from_row,
    copy_with,
    event_from_row,
    event_row,
    insert_sql,
    iso,
    outbox_from_row,
    ticket_from_row,
    ticket_row,
    tickets_from_rows,
    to_json,
    update_sql,
)

__all__ = ["BUSY_TIMEOUT_S", "ChatRecord", "OutboxRow", "Store"]

BUSY_TIMEOUT_S = 5.0
"""How long a writer waits for another process's transaction before giving up."""

TUNING = ("PRAGMA wal_autocheckpoint = 8000",)
"""Per-connection settings for a big file (issue 11): a checkpoint every 8000 WAL pages
(32 MB) instead of 1000 — each checkpoint syncs the file twice, and at 1000 pages that
was every 15 new tickets of a team's offer at a million tickets. ``bench/fanout.py`` gives
its raw side the same settings, so its ratio measures the work, not the tuning."""

OUTBOX_STATUSES = ("pending", "sent", "dead")

_OPEN = tuple(sorted(s.value for s in OPEN_STATES))
_OPEN_SQL = f"state IN ({', '.join(repr(s) for s in _OPEN)})"


class Store(RuleStore):
    """One connection to the database file. Safe to share between threads (calls are
    serialized by a lock); several processes may open the same file at once."""

    def __init__(self, path: Path | str, config: Config) -> None:
        self.config = config
        self.path = Path(path)
        self._zone = ZoneInfo(config.timezone)
        self._lock = threading.RLock()
        self._depth = 0
        self._savepoints: list[tuple[str, int]] = []  # open: name, total_changes at its start
        self.fault_cache: KnownFaults | None = None  # see tickets.incident_store
        self._marks = Marks()  # load, binding, search and fault marks (tickets.marks)
        self._chats = ChatRows(self._marks)  # chats read and written (tickets.chat_rows)
        self._checkpoints: Checkpointer | None = None
        # isolation_level=None: the driver opens no transaction of its own; ours are
        # explicit (BEGIN IMMEDIATE / SAVEPOINT), see transaction().
        private_file(self.path)
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        for pragma in TUNING:
            conn.execute(pragma)
        self.db = Database(conn, execute_plugins=False)
        with self.transaction():
            migrations.apply(self.db)
        self._marks.watch(conn)
        # As SQLite recommends for long-lived connections: a bounded ANALYZE where the
        # statistics are missing or stale (the list indexes need them at 1M tickets).
        conn.execute("PRAGMA analysis_limit = 400")
        self._optimize("PRAGMA optimize = 0x10002")

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
        with self._lock:
            self._optimize("PRAGMA optimize")
            self.db.close()

    def checkpoint_in_background(self) -> None:
        """Copy the write-ahead log into the database on a thread of its own, not inside
        whichever commit finds it long (tickets.checkpoints; a server's store)."""
        with self._lock:
            if self._checkpoints is None:
                self._checkpoints = Checkpointer(self.path)
                self.db.conn.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_PAGES}")
                self._checkpoints.start()

    def _optimize(self, pragma: str) -> None:
        # Another process holding the write lock: the statistics can wait (and a store
        # closed twice has nothing to optimize).
        with suppress(sqlite3.OperationalError, sqlite3.ProgrammingError):
            self.db.conn.execute(pragma)

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the store's lock, for reads with ``conn.execute`` (no
        sqlite-utils SAVEPOINT/RELEASE around each read): tickets.queries uses it."""
        with self._lock:
            yield self.db.conn

    def write_one(self, sql: str, params: Sequence[Any]) -> None:
        """One write statement: inside the caller's transaction as it is (no SAVEPOINT:
        one statement undoes itself when it fails), else in a transaction of its own."""
        conn = self.db.conn
        with self._lock, nullcontext() if conn.in_transaction else self.transaction():
            conn.execute(sql, params)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; nests as a SAVEPOINT (none of its own directly inside
        a savepoint with nothing written yet); rolls back on exception."""
        with self._lock:
            conn = self.db.conn
            if self._depth == 0:
                conn.execute("BEGIN IMMEDIATE")
                self._depth = 1
                self._chats.begin()
                self._marks.begin()
                try:
                    yield
                    conn.execute("COMMIT")
                except BaseException:
                    # What this transaction read or wrote of chats is undone with it
                    # (a committed one's is kept for the next: tickets.chat_rows).
                    self._forget()
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                finally:
                    self._depth = 0
            else:
                # Nothing written since the enclosing savepoint began (the engine's around
                # an action, then the store method's own): that savepoint marks where
                # this one would, so a failure here goes back to it, and it stays.
                reuse = bool(self._savepoints) and self._savepoints[-1][1] == conn.total_changes
                if reuse:
                    name = self._savepoints[-1][0]
                else:
                    name = f"baoxiu_{self._depth}"
                    conn.execute(f"SAVEPOINT {name}")
                    self._savepoints.append((name, conn.total_changes))
                self._depth += 1
                try:
                    yield
                except BaseException:
                    # An error that ended the whole transaction took the savepoint too.
                    self._forget()  # it may have read what is now undone
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO {name}")
                        if not reuse:
                            conn.execute(f"RELEASE {name}")
                    raise
                else:
                    if not reuse:
                        conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                    if not reuse:
                        self._savepoints.pop()

    def _forget(self) -> None:
        self._chats.forget()
        self._marks.forget()

    def mark(self, name: str) -> int:
        """The mark ``name`` of tickets.marks ("load", "binding", "search", "fault"), read
        once per transaction while this connection moves none of them."""
        with self._lock:
            return self._marks.read(self.db.conn, name, remember=self._depth > 0)

    # tickets ----------------------------------------------------------------------
    def create_ticket(self, draft: Draft, now: datetime, *, actor: Actor | None = None) -> Ticket:
        """File ``draft``; ``actor`` is who filed it, the reporter himself unless given
        (a dispatcher or a phone/Open311 source filing on his behalf, who then gets told)."""
        return filing.create(self, draft, now, actor)

    def apply(
        self,
        number: str,
        action: Action,
        actor: Actor,
        now: datetime,
        *,
        note: str = "",
        data: dict[str, Any] | None = None,
        target: str | None = None,
    ) -> Ticket:
        with self.transaction():
            return self._change(self.get(number), action, actor, now, note, data, target)

    def _change(
        self,
        before: Ticket,
        action: Action,
        actor: Actor,
        now: datetime,
        note: str = "",
        data: dict[str, Any] | None = None,
        target: str | None = None,
    ) -> Ticket:
        after, event = workflow.advance(
            before, action, actor, now, note=note, data=data, target=target
        )
        if (
            action in (Action.ASSIGN, Action.TRANSFER)
            and self.config.technician(target or "") is None
        ):
            raise InvalidInput("errors.unknown_technician", name=target or "")
        if action is Action.MERGE:
            master = self.ticket(target or "")
            if master is None:
                raise TicketNotFound(number=target or "")
            if master.state is State.DUPLICATE:
                raise InvalidInput("errors.master_is_duplicate", number=master.number)
        after, event = dispatch_store.before_write(self, before, after, event)
        after = copy_with(after, version=before.version + 1)
        row = ticket_row(after)
        del row["number"]
        cursor = self.db.conn.execute(
            update_sql(tuple(row)), [*row.values(), before.number, before.version]
        )
        if cursor.rowcount != 1:
            # Only reachable if someone wrote the row outside our transactions.
            raise BaoxiuError("errors.generic", number=before.number, reason="changed meanwhile")
        event = self._record(before, after, event)
        return dispatch_store.after_write(self, before, after, event)

    def set_priority(
        self, number: str, priority: str, actor: Actor, now: datetime, note: str = ""
    ) -> Ticket:
        """Action.PRIORITY, with the due times counted again and the timers replanned."""
        return dispatch_store.set_priority(self, number, priority, actor, now, note)

    def _record(self, before: Ticket | None, after: Ticket, event: Event) -> Event:
        """Append ``event`` and queue the notices it causes; returns it with its id."""
        event_id = self._insert("events", event_row(event))
        event = copy_with(event, id=event_id)
        # The search index and the statistics rollup move with the event (same transaction).
        search.refresh(self.db.conn, before, after, event)
        stats.refresh(self.db.conn, before, after, event, self._zone)
        notices = notices_for(after, event, self.config, before=before)
        notices = revise(notices, after, event, self.config, before=before)
        # Merged duplicates hear what it hears; a ticket being filed has none yet.
        followers = self.followers(after.number) if before is not None else []
        notices += follower_notices(after, event, self.config, followers, before=before)
        for notice in notices:
            self._queue(after, event, notice)
        return event

    def _queue(self, ticket: Ticket, event: Event, notice: Notice) -> None:
        notice_rows.queue(self, ticket, event, notice)

    def _locale_of(self, channel: str, chat: str, default: str | None = None) -> str:
        """The chat's chosen language, else ``default``, else the service's."""
        row = self._chat_row(channel, chat)
        return (row or {}).get("locale") or default or self.config.locale

    def ticket(self, number: str) -> Ticket | None:
        rows = self.query("SELECT * FROM tickets WHERE number = ?", [number])
        return ticket_from_row(rows[0]) if rows else None

    def get(self, number: str) -> Ticket:
        found = self.ticket(number)
        if found is None:
            raise TicketNotFound(number=number)
        return found

    def timeline(self, number: str) -> list[Event]:
        rows = self.query("SELECT * FROM events WHERE number = ? ORDER BY id", [number])
        return [event_from_row(row) for row in rows]

    # Lookup (conversation.context.Lookup) and console queries -----------------
    def tickets_of(self, channel: str, chat: str, limit: int = 10) -> Sequence[Ticket]:
        """The reporter's tickets, open first, newest first: one read in the order of
        index tickets_reporter_open_newest (migration export_0001), which holds the same
        ``state IN (…)`` expression, so a reporter with thousands is never sorted."""
        # INDEXED BY: a database ANALYZEd before the index existed has statistics for
        # tickets_reporter_newest only, and the planner would read that one and sort.
        return self._select(
            "SELECT * FROM tickets INDEXED BY tickets_reporter_open_newest"
            " WHERE reporter_channel = ? AND reporter_chat = ?"
            f" ORDER BY {_OPEN_SQL} DESC, created_at DESC, number DESC LIMIT ?",
            [channel, chat, int(limit)],
        )

    def open_duplicate(
        self, channel: str, chat: str, category: str, spot: str, since: datetime
    ) -> Ticket | None:
        # ({_OPEN_SQL}) = 1: the third column of tickets_reporter_open_newest, so the
        # reporter's open tickets since ``since`` are one range read newest first.
        found = self._tickets(
            f"reporter_channel = ? AND reporter_chat = ? AND ({_OPEN_SQL}) = 1 "
            "AND created_at >= ? AND +category = ? AND +spot = ?",
            [channel, chat, iso(since), category, spot],
            order="created_at DESC, number DESC",
            limit=1,
        )
        return found[0] if found else None

    def jobs_of(self, technician: str, limit: int = 50) -> Sequence[Ticket]:
        """Open tickets held by ``technician``, oldest first."""
        return self._open("holder = ?", [technician], limit=limit)

    def offered_to(self, technician: str, limit: int = 50) -> Sequence[Ticket]:
        teams = sorted(self.config.teams_of(technician))
        if not teams:
            return []
        marks = ", ".join("?" for _ in teams)
        # "+": read new tickets in created order (tickets_state_newest), never sort them.
        return self._tickets(
            f"state = 'new' AND +mode = 'claim' AND +team IN ({marks})", [*teams], limit=limit
        )

    def queue(self, limit: int = 20) -> Sequence[Ticket]:
        # holder IS NULL AND state = ?: a range of tickets_holder_state, in created order.
        return self._open("holder IS NULL", [], limit=limit)

    def follow_ups(self, *, status: str | None = "open") -> list[dispatch_store.FollowUp]:
        """Follow-up tasks (回访) the dispatchers owe, oldest first (for ``ctx.lookup``)."""
        return dispatch_store.follow_ups(self, status=status)

    def open_tickets(
        self,
        *,
        team: str | None = None,
        area: str | None = None,
        category: str | None = None,
        technician: str | None = None,
        limit: int = 200,
    ) -> list[Ticket]:
        """Open tickets, oldest first, at most ``limit`` (tickets.queries pages further);
        ``category`` may be a leaf or a group code."""
        where, params = [], []
        for column, value in (("+team", team), ("+area", area), ("holder", technician)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if category is not None:
            where.append("(+category = ? OR category LIKE ? ESCAPE '\\')")
            escaped = category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params += [category, f"{escaped}.%"]
        return self._open(" AND ".join(where) or "1", params, limit=limit)

    def overdue(self, now: datetime, limit: int = 200) -> list[Ticket]:
        """Open tickets past the time limit of their state: not claimed in time (new),
        not signed in in time (assigned), not resolved in time (on_site, paused); the
        longest overdue first (the ``due_key`` column of migration perf_0001)."""
        return self._tickets("due_key < ?", [iso(now)], order="due_key, number", limit=limit)

    def all_tickets(self, *, state: str | None = None, limit: int = 200) -> list[Ticket]:
        """The newest ``limit`` tickets (or those in ``state``); tickets.queries pages."""
        where, params = ("state = ?", [state]) if state is not None else ("1", [])
        return self._tickets(where, params, order="created_at DESC, number DESC", limit=limit)

    def _open(self, where: str, params: list[Any], *, limit: int) -> list[Ticket]:
        """Open tickets matching ``where``, oldest first: one arm per open state."""
        arms = [(f"state = ? AND {where}", [state, *params]) for state in _OPEN]
        sql, merged_params = queries.merged(arms, "created_at, number", int(limit))
        return self._select(sql, merged_params)

    def _tickets(
        self,
        where: str,
        params: list[Any],
        *,
        order: str = "created_at, number",
        limit: int | None = None,
    ) -> list[Ticket]:
        sql = f"SELECT * FROM tickets WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, int(limit)]
        return self._select(sql, params)

    def _select(self, sql: str, params: list[Any]) -> list[Ticket]:
        with self._lock:
            cursor = self.db.conn.execute(sql, params)
            found = cursor.fetchall()
        return tickets_from_rows([d[0] for d in cursor.description], found)

    # chats --------------------------------------------------------------------------
    def chat(self, channel: str, chat: str) -> ChatRecord:
        with self._lock:  # read once per transaction (tickets.chat_rows)
            return self._chats.read(self.db.conn, channel, chat, remember=self._depth > 0)

    def save_chat(self, record: ChatRecord, now: datetime) -> None:
        with self._lock:
            if self._depth:
                self._chats.write(self.db.conn, record, iso(now))
                return
            with self.transaction():
                self._chats.write(self.db.conn, record, iso(now))

    def fault_mark(self) -> int:
        """The mark of ``fault_changes`` (tickets.incident_store): ``mark("fault")``, which
        a chat read in this transaction brought along (tickets.chat_rows)."""
        return self.mark("fault")

    def chats_of_person(self, person: str) -> list[ChatRecord]:
        rows = self.query("SELECT * FROM chats WHERE person = ? ORDER BY channel, chat", [person])
        return [chat_from_row(row) for row in rows]

    def _chat_row(self, channel: str, chat: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM chats WHERE channel = ? AND chat = ?", [channel, chat])
        return rows[0] if rows else None

    # outbox -------------------------------------------------------------------------
    def due_notices(
        self,
        channel: str,
        now: datetime,
        *,
        chat: str | None = None,
        limit: int = 100,
        skip_chats: Sequence[str] = (),
    ) -> list[OutboxRow]:
        """Pending notices of ``channel`` whose time has come: most urgent first, then
        oldest first (so one chat's notices arrive in the order they happened). Rows
        another worker holds (``tickets.outbox.lease``) and those of ``skip_chats`` are
        left out."""
        # fanout IS NULL: a team's fan-out row is never sent as such (notice_rows.expand).
        where = "status = 'pending' AND channel = ? AND next_at <= ? AND fanout IS NULL"
        params = [channel, iso(now)]
        where += " AND (lease_until IS NULL OR lease_until <= ?)"
        params.append(iso(now))
        if chat is not None:
            where += " AND chat = ?"
            params.append(chat)
        if skip_chats:
            where += " AND chat NOT IN (SELECT value FROM json_each(?))"
            params.append(to_json(list(skip_chats)))
        rows = self.query(
            f"SELECT * FROM outbox WHERE {where} ORDER BY priority, id LIMIT ?", [*params, limit]
        )
        return [outbox_from_row(row) for row in rows]

    def outbox_row(self, notice_id: int) -> OutboxRow | None:
        rows = self.query("SELECT * FROM outbox WHERE id = ?", [notice_id])
        return outbox_from_row(rows[0]) if rows else None

    def notices_of(self, number: str) -> list[OutboxRow]:
        """Every outbox row of a ticket, in the order they were queued."""
        rows = self.query("SELECT * FROM outbox WHERE number = ? ORDER BY id", [number])
        return [outbox_from_row(row) for row in rows]

    def mark_sent(self, notice_id: int, now: datetime, provider_id: str = "") -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, provider_id = ?,"
                " attempts = attempts + 1, last_error = '' WHERE id = ?",
                [iso(now), provider_id, notice_id],
            )

    def mark_failed(
        self, notice_id: int, error: str, retry_at: datetime | None, *, count: bool = True
    ) -> None:
        """Count a failed attempt; try again at ``retry_at``, or never (``None`` → dead).
        ``count=False``: a wait the platform asked for (a rate limit), not a failure."""
        with self.transaction():
            if retry_at is None:
                self.db.execute(
                    "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?"
                    " WHERE id = ?",
                    [error, notice_id],
                )
            else:
                self.db.execute(
                    "UPDATE outbox SET status = 'pending', attempts = attempts + ?,"
                    " last_error = ?, next_at = ? WHERE id = ?",
                    [1 if count else 0, error, iso(retry_at), notice_id],
                )

    def outbox_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTBOX_STATUSES, 0)
        for row in self.query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status", []):
            counts[row["status"]] = row["n"]
        return counts

    # platform deliveries ----------------------------------------------------------
    def record_update(self, channel: str, update_id: str | int) -> bool:
        """Remember a platform update; False if it was seen before (a redelivery)."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO processed_updates (channel, update_id) VALUES (?, ?)"
                " ON CONFLICT (channel, update_id) DO NOTHING",
                [channel, str(update_id)],
            )
            return cursor.rowcount == 1

    # plumbing -----------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query, as dicts, read under the store's lock (the
        connection is shared between threads: use this, not ``db.query``, from any
        thread that does not hold ``transaction()``)."""
        # conn.execute, not db.query: sqlite-utils wraps each read in SAVEPOINT/RELEASE
        # (20 of the 38 statements of a new ticket were those).
        with self._lock:
            cursor = self.db.conn.execute(sql, list(params))
            if cursor.description is None:
                return []
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        cursor = self.db.conn.execute(insert_sql(table, tuple(row)), tuple(row.values()))
        return int(cursor.lastrowid or 0)
