"""Outbox queries and updates beyond the store's basics: leases, delivery attempts,
copies of a notice on another channel, dispatcher alerts, the operator's views
(list, counts, retry, purge) and the reporters' notification preferences.

A *lease* (``lease_owner``, ``lease_until``) is how a worker takes a batch: only
pending rows nobody else holds are leased, and only when no older notice of the same
chat is still waiting (not yet due, or held by another worker) — so two workers never
send one notice at once and a chat's notices go out in the order they were queued. A
worker that dies keeps its rows until the lease runs out; one that stops releases them.

Every write runs in ``Store.transaction()``. Like the store, this module sends nothing
and imports nothing from the edges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.model import Config
from config.notify_config import PREFERENCES
from tickets.errors import InvalidInput
from tickets.rows import OutboxRow, iso, outbox_from_row, to_json, when
from tickets.store import Store

OUTCOMES = ("sent", "retry", "dead", "interrupted")
ALERT_KIND = "dispatcher.dead_letter"
UNREACHABLE_KIND = "dispatcher.unreachable"
REPLY_KIND = "dialogue.reply"  # a dialogue reply kept for retry (notify.kept)
"""A job notice no chat could receive (``Store._unreachable``)."""
SMS = "sms"
EMAIL = "email"
PHONE = "phone"
"""A caller filed by an agent at the console (坐席代录): his chat is his phone, and his
notices go by SMS from the start (``bots.notify_workers``)."""


@dataclass(frozen=True)
class Attempt:
    """One try at delivering one notice."""

    outbox_id: int
    at: datetime
    outcome: str  # sent | retry | dead | interrupted
    error: str = ""
    provider_id: str = ""
    worker: str = ""
    seconds: float | None = None


@dataclass(frozen=True)
class Preference:
    """How the person in one chat wants to hear about their reports (/notify)."""

    preference: str | None = None  # None: the configured default
    email: str | None = None


# -- leases -----------------------------------------------------------------------------


def lease(store: Store, ids: Sequence[int], owner: str, now: datetime, until: datetime) -> set[int]:
    """Lease what may be sent of ``ids`` to ``owner`` until ``until``; return those ids."""
    if not ids:
        return set()
    wanted = json.dumps(list(ids))
    with store.transaction():
        cursor = store.db.execute(
            "UPDATE outbox SET lease_owner = :owner, lease_until = :until"
            " WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending'"
            " AND (lease_until IS NULL OR lease_until <= :now OR lease_owner = :owner)"
            " AND NOT EXISTS (SELECT 1 FROM outbox AS older"
            "  WHERE older.channel = outbox.channel AND older.chat = outbox.chat"
            "  AND older.status = 'pending' AND older.id < outbox.id"
            "  AND older.id NOT IN (SELECT value FROM json_each(:ids))"
            "  AND (older.next_at > :now"
            "   OR (older.lease_until > :now AND older.lease_owner != :owner)))"
            " RETURNING id",
            {"owner": owner, "until": iso(until), "ids": wanted, "now": iso(now)},
        )
        return {int(row[0]) for row in cursor.fetchall()}


def release(store: Store, ids: Iterable[int], owner: str) -> None:
    """Give back ``owner``'s leases on ``ids`` (what is sent or dead keeps its status)."""
    wanted = json.dumps(list(ids))
    if wanted == "[]":
        return
    with store.transaction():
        store.db.execute(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL"
            " WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ?",
            [wanted, owner],
        )


# -- attempts ---------------------------------------------------------------------------


def mark_parts(store: Store, notice_id: int, parts: int) -> None:
    """``parts`` calls of a notice went out: a retry resumes after them (a notice of
    photos + text whose text failed must not send the photos again)."""
    with store.transaction():
        store.db.execute("UPDATE outbox SET parts_sent = ? WHERE id = ?", [parts, notice_id])


def record(store: Store, attempt: Attempt) -> None:
    with store.transaction():
        store.db.execute(
            "INSERT INTO outbox_attempts (outbox_id, at, outcome, error, provider_id, worker,"
            " seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                attempt.outbox_id,
                iso(attempt.at),
                attempt.outcome,
                attempt.error[:500],
                attempt.provider_id,
                attempt.worker,
                attempt.seconds,
            ],
        )


def attempts(store: Store, notice_id: int) -> list[Attempt]:
    rows = store.query("SELECT * FROM outbox_attempts WHERE outbox_id = ? ORDER BY id", [notice_id])
    return [
        Attempt(
            outbox_id=r["outbox_id"],
            at=datetime.fromisoformat(r["at"]),
            outcome=r["outcome"],
            error=r["error"],
            provider_id=r["provider_id"],
            worker=r["worker"],
            seconds=r["seconds"],
        )
        for r in rows
    ]


# -- queuing more rows --------------------------------------------------------------------


def copy(
    store: Store, row: OutboxRow, channel: str, chat: str, now: datetime, *, suffix: str
) -> bool:
    """Queue ``row`` again for ``channel``/``chat`` (an SMS or email copy); the key
    ``<row.key>><suffix>`` makes it once only. True when it was queued now."""
    return queue(
        store,
        key=f"{row.key}>{suffix}",
        number=row.number,
        event_id=row.event_id,
        kind=row.kind,
        channel=channel,
        chat=chat,
        locale=row.locale,
        params=row.params,
        priority=row.priority,
        now=now,
    )


def queue(
    store: Store,
    *,
    key: str,
    number: str | None,
    event_id: int | None,
    kind: str,
    channel: str,
    chat: str,
    locale: str,
    params: dict[str, Any],
    priority: int,
    now: datetime,
) -> bool:
    with store.transaction():
        cursor = store.db.execute(
            "INSERT INTO outbox (key, number, event_id, kind, channel, chat, locale, params,"
            " priority, status, attempts, next_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            [
                *(key, number, event_id, kind, channel, chat, locale),
                *(to_json(params), priority, iso(now), iso(now)),
            ],
        )
        return cursor.rowcount == 1


def dispatcher_chats(store: Store, config: Config) -> list[tuple[str, str, str]]:
    """(channel, chat, locale) of every chat bound to a configured dispatcher."""
    ids = [d.id for d in config.dispatchers]
    if not ids:
        return []
    rows = store.query(
        "SELECT channel, chat, locale FROM chats WHERE role = 'dispatcher'"
        " AND person IN (SELECT value FROM json_each(?)) ORDER BY channel, chat",
        [json.dumps(ids)],
    )
    return [(r["channel"], r["chat"], r["locale"] or config.locale) for r in rows]


# -- the operator's views -----------------------------------------------------------------


def rows(
    store: Store,
    *,
    status: str | None = None,
    channel: str | None = None,
    number: str | None = None,
    limit: int = 50,
) -> list[OutboxRow]:
    """Outbox rows, newest first."""
    where, params = ["1"], []
    for column, value in (("status", status), ("channel", channel), ("number", number)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    found = store.query(
        f"SELECT * FROM outbox WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        [*params, int(limit)],
    )
    return [outbox_from_row(r) for r in found]


def counts(store: Store) -> dict[tuple[str, str], int]:
    """(channel, status) → number of rows."""
    found = store.query(
        "SELECT channel, status, COUNT(*) AS n FROM outbox GROUP BY channel, status", []
    )
    return {(r["channel"], r["status"]): int(r["n"]) for r in found}


def lease_of(store: Store, notice_id: int) -> tuple[str | None, datetime | None]:
    found = store.query("SELECT lease_owner, lease_until FROM outbox WHERE id = ?", [notice_id])
    if not found:
        return None, None
    return found[0]["lease_owner"], when(found[0]["lease_until"])


def retry(store: Store, notice_id: int, now: datetime) -> bool:
    """Make a dead (or waiting) notice due now; False if there is none such."""
    with store.transaction():
        cursor = store.db.execute(
            "UPDATE outbox SET status = 'pending', next_at = ?, lease_owner = NULL,"
            " lease_until = NULL WHERE id = ? AND status IN ('dead', 'pending')",
            [iso(now), notice_id],
        )
        return cursor.rowcount == 1


def purge(store: Store, sent_before: datetime) -> int:
    """Delete the notices sent before ``sent_before`` and their attempts; return how many.
    Pending and dead rows stay: they are the ones an operator still needs."""
    with store.transaction():
        store.db.execute(
            "DELETE FROM outbox_attempts WHERE outbox_id IN"
            " (SELECT id FROM outbox WHERE status = 'sent' AND sent_at < ?)",
            [iso(sent_before)],
        )
        cursor = store.db.execute(
            "DELETE FROM outbox WHERE status = 'sent' AND sent_at < ?", [iso(sent_before)]
        )
        return int(cursor.rowcount)


# -- preferences --------------------------------------------------------------------------


def preference(store: Store, channel: str, chat: str) -> Preference:
    found = store.query(
        "SELECT preference, email FROM notify_preferences WHERE channel = ? AND chat = ?",
        [channel, chat],
    )
    if not found:
        return Preference()
    return Preference(found[0]["preference"], found[0]["email"])


def save_preference(
    store: Store,
    channel: str,
    chat: str,
    now: datetime,
    *,
    choice: str | None = None,
    email: str | None = None,
) -> None:
    """Change what is given (``choice``; ``email``, where "" forgets the address), keep
    the rest. Raises ``InvalidInput`` for a choice that is not one of ``PREFERENCES``."""
    if choice is not None and choice not in PREFERENCES:
        raise InvalidInput("errors.invalid_input")
    before = preference(store, channel, chat)
    after_email = before.email if email is None else (email.strip() or None)
    with store.transaction():
        store.db.execute(
            "INSERT INTO notify_preferences (channel, chat, preference, email, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, chat) DO UPDATE SET"
            " preference = excluded.preference, email = excluded.email,"
            " updated_at = excluded.updated_at",
            [channel, chat, choice or before.preference, after_email, iso(now)],
        )


def has_pending(store: Store, channel: str) -> bool:
    """Whether ``channel`` has any notice waiting (due or not, fan-out rows included): a
    channel need not wake its delivery worker after a step that queued it nothing."""
    with store.reader() as conn:
        found = conn.execute(
            "SELECT 1 FROM outbox WHERE status = 'pending' AND channel = ? LIMIT 1", [channel]
        ).fetchone()
    return found is not None
