"""The web chat's inbox (``web_messages``, ``web_media``): the server's own table in the
store's file: every reply, every resident message and every notice a web chat was shown,
in order, so the page can long-poll it and a reload shows the whole conversation.
Nothing here decides anything about tickets or dialogues.

A poll is answered from the chat's tail in memory when it can be (``bots.web.tail``:
filled after each COMMIT with what was committed), else read from the store. The page's
reads (``messages``, ``last_seq``, ``label_of``, ``photos_since``, ``may_see``,
``locale_of``) go through a read-only connection of their own, used by the event loop's
thread only: in WAL mode it never waits for the writer, so a step being committed on the
web chat's writer thread (``bots.web.chat``) does not stall the long-polls. Writes
(``append``) go through the store's connection, inside the caller's transaction, on the
writer's thread while it runs (notices too: ``InboxSender``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bots.web.tail import KEEP, Row, Tails, labels_of
from bots.web.writer import Writer
from conversation.replies import (
    Ask,
    RemoveKeyboard,
    Reply,
    RequestContact,
    RequestLocation,
    ShowPhotos,
)
from tickets.store import OutboxRow, Store

PAGE = 100
"""Most messages one inbox read returns."""


# -- the inbox ------------------------------------------------------------------------
class WebInbox:
    """What each web chat has seen, in order, and the long-pollers waiting for more."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.closing = False
        messages, media = store.db.table("web_messages"), store.db.table("web_media")
        with store.transaction():
            messages.create(
                {"seq": int, "chat": str, "at": str, "kind": str, "payload": str, "key": str},
                pk="seq",
                not_null={"chat", "at", "kind", "payload"},
                if_not_exists=True,
            )
            if "n" not in messages.columns_dict:
                # What a page is told is the message's number within its own chat: the
                # table's global seq would show everyone how busy the desk is.
                store.db.execute("ALTER TABLE web_messages ADD COLUMN n INTEGER")
                store.db.execute(
                    "UPDATE web_messages SET n = numbered.n FROM (SELECT seq, ROW_NUMBER()"
                    " OVER (PARTITION BY chat ORDER BY seq) AS n FROM web_messages) AS numbered"
                    " WHERE web_messages.seq = numbered.seq"
                )
            messages.create_index(["chat", "n"], unique=True, if_not_exists=True)
            # A notice delivered twice (crash before mark_sent) is shown once. Only
            # notices have a key: the index holds theirs alone, and the (chat, n) index
            # serves every read by chat (each message written was one more index to
            # update; these two were made by earlier versions).
            store.db.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS web_messages_key ON web_messages (key)"
                " WHERE key IS NOT NULL"
            )
            store.db.execute("DROP INDEX IF EXISTS idx_web_messages_key")
            store.db.execute("DROP INDEX IF EXISTS idx_web_messages_chat_seq")
            media.create({"chat": str, "ref": str}, pk=("chat", "ref"), if_not_exists=True)
            # The key that signs session tokens: made once, kept with the data it guards.
            store.db.execute(
                "CREATE TABLE IF NOT EXISTS web_secret (id INTEGER PRIMARY KEY CHECK (id = 1),"
                " key BLOB NOT NULL)"
            )
            store.db.execute(
                "INSERT OR IGNORE INTO web_secret (id, key) VALUES (1, ?)",
                [secrets.token_bytes(32)],
            )
            [row] = store.query("SELECT key FROM web_secret WHERE id = 1")
            [(newest,)] = store.db.conn.execute(_NEWEST).fetchall()
        self.secret: bytes = bytes(row["key"])
        self.tails = Tails(int(newest))
        self.writer: Writer | None = None
        """The web chat's writer thread while it runs (``bots.web.chat``): notices go
        through it too, so that every message this process shows is written in order."""
        self.sessions: dict[str, str] = {}
        """Session token → chat, for the tokens already checked (``bots.web.chat``)."""
        self.speaking: set[str] = set()
        """Chats known to have a language of their own: a step need not read the chat's
        record to give it the browser's (``bots.web.chat``; the writer's thread only)."""
        # Opened after the tables exist; autocommit, so each read sees the last commit.
        self._reader = sqlite3.connect(
            f"file:{store.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        self._reader.execute("PRAGMA query_only = 1")

    def _read(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        """Rows of a read on the reader connection (the event loop's thread only)."""
        cursor = self._reader.execute(sql, list(params))
        cursor.row_factory = sqlite3.Row
        return cursor.fetchall()

    def append(
        self,
        chat: str,
        payloads: Iterable[tuple[str, dict[str, Any]]],
        now: datetime,
        *,
        key: str | None = None,
        wake: bool = True,
        last: int | None = None,
        then: Callable[[Callable[[], None]], None] | None = None,
    ) -> int:
        """Store (kind, payload) messages of ``chat``; wake its pollers; return the last seq.

        Inside a caller's transaction pass ``wake=False`` and call ``notify`` after the
        commit: a poller woken earlier would read (on its own connection) nothing yet;
        pass ``then`` (``Writer.after_commit``) too, which runs what the chat's tail needs
        after that COMMIT, and ``last`` if the chat's last number was read in it already."""
        at = now.isoformat()
        rows: list[Row] = []
        with self.store.reader() as conn:  # the store's lock: whose transaction it is
            alone = not conn.in_transaction
            # Inside a caller's transaction no SAVEPOINT: a failing statement undoes
            # itself, and the exception takes the caller's step back with the rest.
            with self.store.transaction() if alone else contextlib.nullcontext():
                # The chat's numbers are read once (the store's write lock is held): each
                # message is the next one unless its key was shown already.
                if last is None:
                    last = self.last_seq(chat, writing=True)
                first, seed = last, None
                if self.tails.last_of(chat) != last:  # none, or not the store's: remake
                    first, seed = self._recent(conn, chat, last)
                messages = [(kind, body, _encode(body)) for kind, body in payloads]
                if not key and messages:  # nothing to skip: one statement
                    n, last = last, last + len(messages)
                    seq = _insert_all(conn, chat, n, at, messages) - len(messages)
                    for kind, body, raw in messages:
                        n, seq = n + 1, seq + 1
                        rows.append(Row(seq, n, _message(n, at, kind, raw), labels_of(body)))
                else:
                    for i, (kind, body, raw) in enumerate(messages):
                        added = conn.execute(_INSERT, [chat, last + 1, at, kind, raw, f"{key}#{i}"])
                        if added.rowcount > 0:
                            last += 1
                            text = _message(last, at, kind, raw)
                            rows.append(Row(int(added.lastrowid or 0), last, text, labels_of(body)))
                for _, body, _ in messages:
                    for ref in body.get("photos", ()):
                        conn.execute(
                            "INSERT OR IGNORE INTO web_media (chat, ref) VALUES (?, ?)", [chat, ref]
                        )
            if then is not None:
                then(functools.partial(self.tails.commit, chat, seed, first, rows))
            elif alone:  # committed just now, and the lock is still held: in order
                self.tails.commit(chat, seed, first, rows)
            else:  # committed with a transaction of someone else's: nobody says when
                self.tails.forget(chat)
        if wake:
            self.notify(chat)
        return last

    def _recent(self, conn: sqlite3.Connection, chat: str, last: int) -> tuple[int, list[Row]]:
        """The chat's last messages as its new tail holds them, and the number before them."""
        if last == 0:
            return 0, []
        found = conn.execute(
            "SELECT seq, n, at, kind, payload FROM web_messages WHERE chat = ? AND n > ?"
            " ORDER BY n",
            [chat, max(0, last - KEEP)],
        ).fetchall()
        rows = [
            Row(seq, n, _message(n, at, kind, raw), labels_of(json.loads(raw)))
            for seq, n, at, kind, raw in found
        ]
        return (rows[0].n - 1 if rows else last), rows

    def messages(self, chat: str, after: int, limit: int = PAGE) -> list[dict[str, Any]]:
        """The chat's messages after number ``after``, oldest first (at most ``limit``)."""
        found: list[dict[str, Any]] = json.loads(self.page(chat, after, limit)[0])
        return found

    def page(self, chat: str, after: int, limit: int = PAGE) -> tuple[str, int, int]:
        """``messages`` as the JSON text of its list, with how many and the last number.

        The long-poll answers every step with this: from the chat's tail when it holds
        them (``bots.web.tail``), else from the store. Each stored payload is already a
        JSON object, so it is spliced in after the message's own fields rather than
        decoded and encoded again (a payload's own ``seq``/``at``/``kind`` would come last
        and win, as in ``messages``' dict)."""
        found = self.tails.page(chat, after, limit)
        if found is not None and found[1]:
            return found  # no read at all: each one a wait for the GIL on a busy server
        if found is not None:  # nothing new here: has another process written since?
            [(newest,)] = self._reader.execute(_NEWEST).fetchall()
            if newest <= self.tails.synced:
                return found
        rows = self._reader.execute(
            "SELECT n, at, kind, payload FROM web_messages WHERE chat = ? AND n > ?"
            " ORDER BY n LIMIT ?",
            [chat, after, limit],
        ).fetchall()
        parts = [_message(int(n), at, kind, raw) for n, at, kind, raw in rows]
        return f"[{','.join(parts)}]", len(rows), int(rows[-1][0]) if rows else after

    def last_seq(self, chat: str, *, writing: bool = False) -> int:
        """The number of the chat's last message; ``writing``: as the store's connection
        sees it (inside a transaction, on the writer's thread)."""
        conn = self.store.db.conn if writing else self._reader
        [(last,)] = conn.execute(_LAST, [chat]).fetchall()
        return int(last)

    def locale_of(self, channel: str, chat: str) -> str | None:
        """The language the chat chose (``chats.locale``), if any."""
        rows = self._read(
            "SELECT locale FROM chats WHERE channel = ? AND chat = ?", [channel, chat]
        )
        return str(rows[0]["locale"]) if rows and rows[0]["locale"] else None

    def label_of(self, chat: str, data: str, *, last: int | None = None) -> str:
        """The label of the button ``data`` as this chat was last shown it ("" if never).

        ``last``: called inside the writing transaction (the writer's thread), which read
        the chat's last number: the chat's tail answers if it is the store's, else the
        store's connection does; without it, the read-only connection does."""
        if last is not None:
            known = self.tails.label(chat, data, last)
            if known is not None:
                return known
        # Only the messages of the last 50 that mention ``data`` are decoded, newest
        # first, and the rows are read one by one: the button pressed is nearly always
        # on the last message, so one row is read instead of 50.
        needle = json.dumps(data, ensure_ascii=False)
        conn = self._reader if last is None else self.store.db.conn
        rows = conn.execute(
            "SELECT payload FROM web_messages WHERE chat = ? AND kind != 'user'"
            " ORDER BY n DESC LIMIT 50",
            [chat],
        )
        try:
            for (raw,) in rows:
                if needle not in raw:
                    continue
                labels = labels_of(json.loads(raw))
                if labels is not None and data in labels:
                    return labels[data]
            return ""
        finally:
            rows.close()

    def photos_since(self, chat: str, since: datetime) -> int:
        """How many photos ``chat`` itself uploaded since ``since``."""
        [row] = self._read(
            "SELECT COUNT(*) AS n FROM web_messages WHERE chat = ? AND kind = 'user'"
            " AND at >= ? AND payload LIKE '%\"photos\"%'",
            [chat, since.isoformat()],
        )
        return int(row["n"])

    def may_see(self, chat: str, ref: str) -> bool:
        rows = self._read("SELECT 1 FROM web_media WHERE chat = ? AND ref = ?", [chat, ref])
        return bool(rows)

    async def wait(self, chat: str, timeout: float) -> None:
        """Return when ``chat`` gets a message, after ``timeout`` seconds, or on shutdown."""
        if self.closing or timeout <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(chat, set())
        waiters.add(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
        finally:
            waiters.discard(future)
            if not waiters and self._waiters.get(chat) is waiters:
                del self._waiters[chat]

    def notify(self, chat: str) -> None:
        """Wake ``chat``'s long-pollers; callable from any thread (the writer's too)."""
        for future in list(self._waiters.get(chat, ())):
            loop = future.get_loop()
            if _running_loop() is loop:
                _release(future)
            else:
                loop.call_soon_threadsafe(_release, future)

    def close(self) -> None:
        """Release every long-poller so the server can stop without waiting for them."""
        self.closing = True
        for chat in list(self._waiters):
            self.notify(chat)

    def finish(self) -> None:
        """Close the read connection (at clean-up, when no request is left to read)."""
        self.close()
        self._reader.close()


_LAST = "SELECT COALESCE(MAX(n), 0) FROM web_messages WHERE chat = ?"
_NEWEST = "SELECT COALESCE(MAX(seq), 0) FROM web_messages"
_INSERT = (
    "INSERT INTO web_messages (chat, n, at, kind, payload, key)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) WHERE key IS NOT NULL DO NOTHING"
)


_encode = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(…, ensure_ascii=False)`` without making an encoder for each call."""
_INSERTS: dict[int, str] = {}


def _insert_all(
    conn: sqlite3.Connection, chat: str, last: int, at: str, messages: list[tuple[str, Any, str]]
) -> int:
    """Insert ``messages`` (kind, body, JSON) as the chat's numbers after ``last``, unkeyed,
    with one statement; return the last one's ``seq``. One statement's rows are numbered
    one after another (the write lock is held, rowids are the next free ones)."""
    sql = _INSERTS.get(len(messages))
    if sql is None:
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(messages))
        sql = _INSERTS[len(messages)] = (
            f"INSERT INTO web_messages (chat, n, at, kind, payload) VALUES {values}"
        )
    params: list[Any] = []
    for i, (kind, _, raw) in enumerate(messages, 1):
        params += (chat, last + i, at, kind, raw)
    return int(conn.execute(sql, params).lastrowid or 0)


def _message(n: int, at: str, kind: str, raw: str) -> str:
    """One message as the page gets it: its own fields, then its payload's."""
    inner = raw.strip()[1:-1].strip()
    head = f'{{"seq":{n},"at":{json.dumps(at)},"kind":{json.dumps(kind)}'
    return f"{head},{inner}}}" if inner else f"{head}}}"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _release(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class InboxSender:
    """The ``web`` channel's ``Sender``: a notice is delivered by putting it in the inbox."""

    def __init__(self, inbox: WebInbox) -> None:
        self.inbox = inbox

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        inbox, now = self.inbox, datetime.now(UTC)
        shown = [("notice", payload(r)) for r in replies]
        writer = inbox.writer
        if writer is None:  # not serving (yet, or any more): written here
            return str(inbox.append(chat, shown, now, key=notice.key))

        def job() -> int:  # on the writer's thread, after the steps queued before it
            return inbox.append(
                chat, shown, now, key=notice.key, wake=False, then=writer.after_commit
            )

        seq = await writer.run(job)
        inbox.notify(chat)
        return str(seq)


def payload(reply: Reply) -> dict[str, Any]:
    """One reply as the JSON the page renders (text only, never markup)."""
    if isinstance(reply, ShowPhotos):
        return {"text": reply.caption, "photos": list(reply.refs)}
    body: dict[str, Any] = {"text": reply.text}
    if isinstance(reply, Ask):
        body["choices"] = [{"label": c.label, "data": c.data} for c in reply.choices]
        body["inline"] = reply.inline
    elif isinstance(reply, RequestContact):
        body["request_contact"] = reply.button
    elif isinstance(reply, RequestLocation):
        body["request_location"] = reply.button
    elif isinstance(reply, RemoveKeyboard):
        body["remove_keyboard"] = True
    return body
