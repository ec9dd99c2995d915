"""The SQLite store (sqlite-utils 4, WAL, synchronous=NORMAL).

Each state change, its event row and its outbox rows are written in one transaction
(``BEGIN IMMEDIATE``, so concurrent writers in other processes queue on the lock
instead of failing on a stale snapshot). Ticket numbers come from a per-day sequence
row updated inside that transaction: ``BX20261123-0007``, never reused.

SKELETON: the signatures below are the contract other packages code against.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from config.model import Config
from tickets.model import Action, Actor, Draft, Event, Ticket


@dataclass(frozen=True)
class ChatRecord:
    """One chat on one channel: its dialogue state (JSON), language, binding, last phone."""

    channel: str
    chat: str
    dialogue: str | None = None  # DialogueState JSON
    locale: str | None = None
    role: str = "reporter"  # reporter | technician | dispatcher
    person: str | None = None  # bound technician/dispatcher id
    last_phone: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    number: str | None
    event_id: int | None
    kind: str  # e.g. "reporter.accepted", "team.offer", "technician.assigned"
    channel: str
    chat: str
    locale: str
    params: dict[str, Any]
    priority: int  # 0 dialogue reply, 1 personal notice, 2 broadcast
    status: str  # pending | sent | dead
    attempts: int
    next_at: datetime
    created_at: datetime
    last_error: str = ""
    sent_at: datetime | None = None


class Store:
    def __init__(self, path: Path | str, config: Config) -> None: ...

    def close(self) -> None: ...

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; nests as a SAVEPOINT; rolls back on exception."""
        yield

    # tickets ----------------------------------------------------------------------
    def create_ticket(self, draft: Draft, now: datetime) -> Ticket: ...

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
    ) -> Ticket: ...

    def ticket(self, number: str) -> Ticket | None: ...

    def get(self, number: str) -> Ticket: ...

    def timeline(self, number: str) -> list[Event]: ...

    # Lookup (conversation.context.Lookup) and console queries -----------------
    def tickets_of(self, channel: str, chat: str, limit: int = 10) -> Sequence[Ticket]: ...

    def open_duplicate(
        self, channel: str, chat: str, category: str, spot: str, since: datetime
    ) -> Ticket | None: ...

    def jobs_of(self, technician: str) -> Sequence[Ticket]: ...

    def offered_to(self, technician: str) -> Sequence[Ticket]: ...

    def queue(self, limit: int = 20) -> Sequence[Ticket]: ...

    def open_tickets(
        self,
        *,
        team: str | None = None,
        area: str | None = None,
        category: str | None = None,
        technician: str | None = None,
    ) -> list[Ticket]: ...

    def overdue(self, now: datetime) -> list[Ticket]: ...

    def all_tickets(self, *, state: str | None = None, limit: int | None = None) -> list[Ticket]: ...

    # chats --------------------------------------------------------------------------
    def chat(self, channel: str, chat: str) -> ChatRecord: ...

    def save_chat(self, record: ChatRecord, now: datetime) -> None: ...

    def chats_of_person(self, person: str) -> list[ChatRecord]: ...

    # outbox -------------------------------------------------------------------------
    def due_notices(
        self, channel: str, now: datetime, *, chat: str | None = None, limit: int = 100
    ) -> list[OutboxRow]: ...

    def mark_sent(self, notice_id: int, now: datetime, provider_id: str = "") -> None: ...

    def mark_failed(self, notice_id: int, error: str, retry_at: datetime | None) -> None: ...
