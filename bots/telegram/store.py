"""The Telegram adapter's own tables, in the store's database file.

- ``telegram_inbox``: updates accepted (their id recorded in ``processed_updates`` in the
  same transaction) but not yet run through the engine. A row is removed in the
  transaction that handles it, so an update answered with 200 and then interrupted by a
  crash is handled after the restart instead of being lost.
- ``telegram_messages``: the offers posted to team groups and members (chat, message id,
  ticket number), so that a claimed job's offers can be edited to "claimed by NAME"; and
  the job card each technician's chat shows of a ticket (``card``, or ``card_photo`` for
  a photo with the card as its caption), so that a job action edits that one card.
- ``telegram_photos``: when each chat's photos were taken, for the hourly cap.

Only storage: no Telegram calls, no ticket rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from tickets.store import Store

CHANNEL = "telegram"
MIGRATIONS = Migrations("baoxiu.telegram")
OFFER = "offer"
OFFER_CLOSED = "offer_closed"
CARD = "card"
CARD_PHOTO = "card_photo"


@MIGRATIONS(name="0001_telegram_inbox")
def _inbox(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE telegram_inbox (
            update_id INTEGER PRIMARY KEY,
            body TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0002_telegram_messages")
def _messages(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE telegram_messages (
            chat TEXT NOT NULL,
            message_id INTEGER NOT NULL,
            number TEXT NOT NULL,
            kind TEXT NOT NULL,
            locale TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            sent_at TEXT NOT NULL,
            PRIMARY KEY (chat, message_id)
        );
        CREATE INDEX telegram_messages_number ON telegram_messages (number, kind);
        """
    )


@MIGRATIONS(name="0003_tgrough_telegram_photos")
def _photos(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE telegram_photos (
            chat TEXT NOT NULL,
            taken_at TEXT NOT NULL
        );
        CREATE INDEX telegram_photos_chat ON telegram_photos (chat, taken_at);
        """
    )


@dataclass(frozen=True)
class Offer:
    chat: str
    message_id: int
    number: str
    locale: str
    text: str


class TelegramTables:
    """Writes go through ``store.transaction()``; reads are single statements, which need
    no transaction of their own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction():
            MIGRATIONS.apply(store.db)

    # -- inbox ------------------------------------------------------------------------
    def accept(self, update_id: int, body: dict[str, Any]) -> bool:
        """Record the update and keep it until handled; False if it was seen before."""
        with self.store.transaction():
            if not self.store.record_update(CHANNEL, update_id):
                return False
            self.store.db.execute(
                "INSERT INTO telegram_inbox (update_id, body, received_at) VALUES (?, ?, ?)",
                [update_id, json.dumps(body, ensure_ascii=False), _now()],
            )
            return True

    def seen(self, update_id: int) -> bool:
        """Was the update recorded before (handled, or kept in the inbox)?"""
        row = self.store.db.execute(
            "SELECT 1 FROM processed_updates WHERE channel = ? AND update_id = ?",
            [CHANNEL, str(update_id)],
        ).fetchone()
        return row is not None

    def record(self, update_id: int) -> None:
        """The update was handled (call inside the transaction that handled it): what
        ``Store.record_update`` does, without a savepoint of its own around the one
        statement (SQLite undoes a failed statement whole)."""
        self.store.db.conn.execute(
            "INSERT INTO processed_updates (channel, update_id) VALUES (?, ?)"
            " ON CONFLICT (channel, update_id) DO NOTHING",
            [CHANNEL, str(update_id)],
        )

    def done(self, *update_ids: int) -> None:
        """The updates were handled (call inside the transaction that handled them)."""
        marks = ", ".join("?" for _ in update_ids)
        with self.store.transaction():
            self.store.db.execute(
                f"DELETE FROM telegram_inbox WHERE update_id IN ({marks})", list(update_ids)
            )

    def pending(self) -> list[dict[str, Any]]:
        """Bodies of accepted updates never handled (a crash came between), oldest first."""
        sql = "SELECT body FROM telegram_inbox ORDER BY update_id"
        rows = self.store.db.execute(sql).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- offers -----------------------------------------------------------------------
    def remember_offer(
        self, chat: str, message_id: int, number: str, locale: str, text: str
    ) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO telegram_messages"
                " (chat, message_id, number, kind, locale, text, sent_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat, message_id) DO NOTHING",
                [chat, message_id, number, OFFER, locale, text, _now()],
            )

    def has_open_offers(self, number: str) -> bool:
        row = self.store.db.execute(
            "SELECT 1 FROM telegram_messages WHERE number = ? AND kind = ? LIMIT 1", [number, OFFER]
        ).fetchone()
        return row is not None

    def take_open_offers(self, number: str) -> list[Offer]:
        """Mark the ticket's open offers closed and return them; a concurrent caller gets
        none of the same rows, so each offer is edited once."""
        with self.store.transaction():
            rows = self.store.db.execute(
                "UPDATE telegram_messages SET kind = ? WHERE number = ? AND kind = ?"
                " RETURNING chat, message_id, number, locale, text",
                [OFFER_CLOSED, number, OFFER],
            ).fetchall()
        return [Offer(str(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def offers(self, number: str) -> list[tuple[str, int, str]]:
        """(chat, message id, kind) of every offer of a ticket; for tests and status."""
        rows = self.store.db.execute(
            "SELECT chat, message_id, kind FROM telegram_messages WHERE number = ?"
            " ORDER BY chat, message_id",
            [number],
        ).fetchall()
        return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]

    # -- job cards --------------------------------------------------------------------
    def remember_card(self, chat: str, message_id: int, number: str, *, photo: bool) -> None:
        """This message is now the chat's card of the ticket (an older one is forgotten)."""
        with self.store.transaction():
            self.store.db.execute(
                "DELETE FROM telegram_messages WHERE chat = ? AND number = ? AND kind IN (?, ?)",
                [chat, number, CARD, CARD_PHOTO],
            )
            self.store.db.execute(
                "INSERT INTO telegram_messages"
                " (chat, message_id, number, kind, locale, text, sent_at)"
                " VALUES (?, ?, ?, ?, '', '', ?) ON CONFLICT (chat, message_id) DO UPDATE"
                " SET number = excluded.number, kind = excluded.kind",
                [chat, message_id, number, CARD_PHOTO if photo else CARD, _now()],
            )

    def card(self, chat: str, number: str) -> tuple[int, bool] | None:
        """(message id, has a photo) of the chat's card of the ticket, if one was sent."""
        row = self.store.db.execute(
            "SELECT message_id, kind FROM telegram_messages WHERE chat = ? AND number = ?"
            " AND kind IN (?, ?) ORDER BY sent_at DESC LIMIT 1",
            [chat, number, CARD, CARD_PHOTO],
        ).fetchone()
        return None if row is None else (int(row[0]), row[1] == CARD_PHOTO)

    def forget_card(self, chat: str, number: str) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "DELETE FROM telegram_messages WHERE chat = ? AND number = ? AND kind IN (?, ?)",
                [chat, number, CARD, CARD_PHOTO],
            )

    # -- photos -----------------------------------------------------------------------
    def photos_since(self, chat: str, since: datetime) -> int:
        row = self.store.db.execute(
            "SELECT count(*) FROM telegram_photos WHERE chat = ? AND taken_at >= ?",
            [chat, since.isoformat()],
        ).fetchone()
        return int(row[0])

    def took_photo(self, chat: str, now: datetime) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "DELETE FROM telegram_photos WHERE taken_at < ?",
                [(now - timedelta(days=1)).isoformat()],
            )
            self.store.db.execute(
                "INSERT INTO telegram_photos (chat, taken_at) VALUES (?, ?)",
                [chat, now.isoformat()],
            )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
