"""The store's schema as named migrations (sqlite-utils ``Migrations``).

A migration, once released, never changes: a new column or table is a new function
below the others. ``apply(db)`` runs the pending ones; the store calls it inside its
own ``BEGIN IMMEDIATE`` so two processes opening a fresh file do not both run them.
This module only shapes tables: no ticket rules, no data of its own.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("baoxiu")


def apply(db: Database) -> None:
    MIGRATIONS.apply(db)


def names() -> list[str]:
    """The names of every migration, in the order they apply."""
    with Database(memory=True) as blank:
        return [m.name for m in MIGRATIONS.pending(blank)]


def _script(db: Database, sql: str) -> None:
    # executescript() inside a transaction runs statement by statement without committing.
    db.executescript(sql)


@MIGRATIONS(name="0001_tickets")
def _tickets(db: Database) -> None:
    _script(
        db,
        """
        CREATE TABLE tickets (
            number TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            category TEXT NOT NULL,
            team TEXT NOT NULL,
            priority TEXT NOT NULL,
            mode TEXT NOT NULL,
            phone TEXT NOT NULL,
            description TEXT NOT NULL,
            reporter_channel TEXT NOT NULL,
            reporter_chat TEXT NOT NULL,
            reporter_locale TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            area TEXT NOT NULL DEFAULT '',
            building TEXT NOT NULL DEFAULT '',
            spot TEXT NOT NULL DEFAULT '',
            latitude REAL,
            longitude REAL,
            photos TEXT NOT NULL DEFAULT '[]',
            preferred_time TEXT NOT NULL DEFAULT '',
            holder TEXT,
            paused_from TEXT,
            pause_reason TEXT NOT NULL DEFAULT '',
            claim_due TEXT,
            arrive_due TEXT,
            resolve_due TEXT,
            signed_in_at TEXT,
            resolved_at TEXT,
            closed_at TEXT,
            resolution TEXT NOT NULL DEFAULT '',
            resolution_photos TEXT NOT NULL DEFAULT '[]',
            distance_m REAL,
            rating INTEGER,
            comment TEXT NOT NULL DEFAULT '',
            hurry_count INTEGER NOT NULL DEFAULT 0,
            reopen_count INTEGER NOT NULL DEFAULT 0,
            master TEXT,
            version INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX tickets_state_team ON tickets (state, team);
        CREATE INDEX tickets_reporter ON tickets (reporter_channel, reporter_chat, created_at);
        CREATE INDEX tickets_holder ON tickets (holder, state);
        CREATE INDEX tickets_created ON tickets (created_at);
        """,
    )


@MIGRATIONS(name="0002_events")
def _events(db: Database) -> None:
    # AUTOINCREMENT: an event id is never handed out twice, so outbox keys built
    # from it stay unique even if rows were ever removed.
    _script(
        db,
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            number TEXT NOT NULL,
            at TEXT NOT NULL,
            actor_role TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_number ON events (number, id);
        CREATE INDEX events_at ON events (at);
        """,
    )


@MIGRATIONS(name="0003_day_seq")
def _day_seq(db: Database) -> None:
    _script(
        db,
        """
        CREATE TABLE day_seq (
            day TEXT PRIMARY KEY,
            last INTEGER NOT NULL
        );
        """,
    )


@MIGRATIONS(name="0004_chats")
def _chats(db: Database) -> None:
    _script(
        db,
        """
        CREATE TABLE chats (
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            dialogue TEXT,
            locale TEXT,
            role TEXT NOT NULL DEFAULT 'reporter',
            person TEXT,
            last_phone TEXT,
            updated_at TEXT,
            PRIMARY KEY (channel, chat)
        );
        CREATE INDEX chats_person ON chats (person);
        """,
    )


@MIGRATIONS(name="0005_outbox")
def _outbox(db: Database) -> None:
    _script(
        db,
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            number TEXT,
            event_id INTEGER,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            locale TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            priority INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            sent_at TEXT,
            provider_id TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX outbox_due ON outbox (status, channel, next_at);
        CREATE INDEX outbox_number ON outbox (number);
        """,
    )


@MIGRATIONS(name="0006_processed_updates")
def _processed_updates(db: Database) -> None:
    _script(
        db,
        """
        CREATE TABLE processed_updates (
            channel TEXT NOT NULL,
            update_id TEXT NOT NULL,
            seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (channel, update_id)
        );
        """,
    )
