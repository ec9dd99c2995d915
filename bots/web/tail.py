"""What each web chat was shown last, in memory, so that the page's polls and a button's
label need no read of the store (issue 11: a read per poll on the event loop's thread
was a fifth of the web chat's work there, each one a wait for the GIL).

A chat's tail is its last messages, numbered as in the store (``web_messages.n``): each
one's JSON text as the page gets it, and the buttons it offered. The store stays the
truth, and a tail only ever says what the store says:

- a tail is changed only after a COMMIT, with what was committed (``commit``), so it
  never shows anything the store could still take back;
- it is made from the store, inside the transaction that writes to the chat, whenever
  the chat has none or the store's last number for the chat is not the tail's;
- what a tail holds of a chat is exactly what the store holds under those numbers (it is
  extended only by this process's own commits, whose numbers the store's unique
  ``(chat, n)`` gives to no one else), so a poll it has new messages for is answered from
  memory alone. Only messages after the tail's last can be missing: written by another
  process. So a poll it has nothing new for compares ``synced`` — the store-wide number
  (``web_messages.seq``) up to which every committed message is in the tails — with the
  store's newest number: above it, the poll reads the store. A commit whose first
  number does not follow ``synced`` (another process wrote in between, a message was
  taken back) drops every tail;
- a poll whose ``after`` is older than the tail reads the store.

Thread-safe (one lock): written on the web chat's writer thread, read on the event loop's.
Nothing here reads the store: ``bots.web.inbox`` does, and hands the rows over.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

KEEP = 16
"""Messages a tail keeps at least; it grows to twice that before it is cut back, so a
tail never holds more than the last 50 messages a button's label is looked up in."""
TAILS = 4_000
"""Chats whose tails are kept, the last written to: the memory stays bounded (some 50 MB
at most), and a chat whose tail went away is read from the store until its next write."""

Labels = dict[str, str] | None
"""A message's buttons, data → label (the first of each data), or None for none."""


@dataclass(frozen=True)
class Row:
    """One committed message: its store-wide and its chat's number, its JSON text."""

    seq: int
    n: int
    text: str
    labels: Labels


def labels_of(body: dict[str, Any]) -> Labels:
    """The buttons a message's payload offers (``choices``), data → label."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return None
    found: dict[str, str] = {}
    for choice in choices:
        data = choice.get("data") if isinstance(choice, dict) else None
        if isinstance(data, str):
            found.setdefault(data, str(choice.get("label", "")))
    return found or None


@dataclass
class _Tail:
    first: int
    """The chat's number of the message before the first one kept (0: the whole chat)."""
    texts: list[str] = field(default_factory=list)
    labels: list[Labels] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.first + len(self.texts)

    def add(self, text: str, labels: Labels) -> None:
        self.texts.append(text)
        self.labels.append(labels)
        if len(self.texts) > 2 * KEEP:
            cut = len(self.texts) - KEEP
            del self.texts[:cut], self.labels[:cut]
            self.first += cut


class Tails:
    """The tails of the chats written to since start (see the module)."""

    def __init__(self, synced: int) -> None:
        self.synced = synced
        self._tails: dict[str, _Tail] = {}
        self._lock = threading.Lock()

    def last_of(self, chat: str) -> int | None:
        """The number of the chat's last message as its tail has it (None: no tail)."""
        with self._lock:
            tail = self._tails.get(chat)
            return None if tail is None else tail.last

    def commit(
        self, chat: str, seed: Sequence[Row] | None, first: int, rows: Sequence[Row]
    ) -> None:
        """After a COMMIT that added ``rows`` to ``chat``: ``seed`` (if the writer read
        one: the chat's messages after number ``first``, before these) replaces its tail,
        and ``rows`` follow.

        Commits are expected in the order they were made. One whose first number does not
        follow ``synced`` drops every tail: after a gap (another process wrote) what the
        tails miss is unknown; before (commits reported out of order, numbers taken back
        and given again) its seed may be older than what a tail holds."""
        if not rows:
            return  # nothing new (a notice shown already): its seed could be the stale one
        with self._lock:
            if rows[0].seq != self.synced + 1:
                self._tails.clear()
                if rows[0].seq <= self.synced:
                    return
            if seed is not None:
                self._tails[chat] = _Tail(first)
                for row in seed:
                    self._tails[chat].add(row.text, row.labels)
            tail = self._tails.pop(chat, None)  # put back last: the newest written to
            for row in rows:
                if tail is not None and row.n == tail.last + 1:
                    tail.add(row.text, row.labels)
                elif tail is not None and row.n > tail.last:
                    tail = None  # a message it never saw: read the store instead
            if tail is not None:
                self._tails[chat] = tail
                while len(self._tails) > TAILS:
                    del self._tails[next(iter(self._tails))]
            self.synced = rows[-1].seq

    def forget(self, chat: str) -> None:
        """Drop the chat's tail (written in a way whose COMMIT nobody reports here)."""
        with self._lock:
            self._tails.pop(chat, None)

    def clear(self) -> None:
        with self._lock:
            self._tails.clear()

    def page(self, chat: str, after: int, limit: int) -> tuple[str, int, int] | None:
        """The chat's messages after ``after`` as ``WebInbox.page`` gives them, if the tail
        holds them; None: read the store. What it gives is the store's: a tail's messages
        are the store's with those numbers. When it gives none, another process may have
        written after them: ask the store whether its newest number is past ``synced``."""
        with self._lock:
            tail = self._tails.get(chat)
            if tail is None or after < tail.first:
                return None
            start = after - tail.first
            texts = tail.texts[start : start + limit]
        return f"[{','.join(texts)}]", len(texts), after + len(texts)

    def label(self, chat: str, data: str, last: int) -> str | None:
        """The label of button ``data`` as the chat was last shown it, if its tail is the
        store's (``last``: the chat's last number in the store, read in the writing
        transaction); "" if the tail holds the whole chat and no such button; None: ask
        the store."""
        with self._lock:
            tail = self._tails.get(chat)
            if tail is None or tail.last != last:
                return None
            for labels in reversed(tail.labels):
                if labels is not None and data in labels:
                    return labels[data]
            return "" if tail.first == 0 else None
