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


def _mark_table(name: str) -> str:
    """A one-row table whose ``mark`` a trigger sets to ``random()`` whenever what it
    watches changes, so a cache knows it must read again. Random rather than a count: a
    rolled-back write must not let a later one reuse the mark of what was undone."""
    return f"""
        CREATE TABLE {name} (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            mark INTEGER NOT NULL
        );
        INSERT INTO {name} (id, mark) VALUES (1, random());
        """


def _on_every_write(tables: tuple[str, ...], trigger: str, name: str) -> str:
    """Triggers that move ``name``'s mark after every INSERT, UPDATE and DELETE on ``tables``
    (named ``<table>_<trigger>_<verb>``)."""
    return "\n".join(
        f"""
        CREATE TRIGGER {table}_{trigger}_{verb.lower()} AFTER {verb} ON {table}
        BEGIN
            UPDATE {name} SET mark = random() WHERE id = 1;
        END;"""
        for table in tables
        for verb in ("INSERT", "UPDATE", "DELETE")
    )


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


@MIGRATIONS(name="0007_outbox_delivery")
def _outbox_delivery(db: Database) -> None:
    # lease_*: the worker that took a notice and until when, so two workers (processes)
    # never send one notice at once. outbox_attempts: every try and its outcome, for the
    # operator. notify_preferences: how a reporter wants to hear (/notify).
    _script(
        db,
        """
        ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
        ALTER TABLE outbox ADD COLUMN lease_until TEXT;
        CREATE INDEX outbox_chat_order ON outbox (channel, chat, status, id);
        CREATE TABLE outbox_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            outbox_id INTEGER NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            provider_id TEXT NOT NULL DEFAULT '',
            worker TEXT NOT NULL DEFAULT '',
            seconds REAL
        );
        CREATE INDEX outbox_attempts_row ON outbox_attempts (outbox_id, id);
        CREATE TABLE notify_preferences (
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            preference TEXT,
            email TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (channel, chat)
        );
        """,
    )


@MIGRATIONS(name="rules_0001_incidents_outages_flags")
def _incidents_outages_flags(db: Database) -> None:
    # Large-area incidents and their linked reporters (a reporter is linked once per
    # incident, which is what makes "told once" hold), planned outages, and the flags
    # the repeat rules put on tickets (repeat, complaint, duplicate suggestions).
    _script(
        db,
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            state TEXT NOT NULL,
            category TEXT NOT NULL,
            area TEXT NOT NULL DEFAULT '',
            latitude REAL,
            longitude REAL,
            master TEXT,
            note TEXT NOT NULL DEFAULT '',
            expected_at TEXT,
            created_at TEXT NOT NULL,
            opened_at TEXT,
            closed_at TEXT,
            opened_by TEXT NOT NULL DEFAULT '',
            closed_by TEXT NOT NULL DEFAULT '',
            resolution TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX incidents_state ON incidents (state, area, category);
        CREATE TABLE incident_reports (
            incident_id INTEGER NOT NULL,
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            locale TEXT NOT NULL,
            joined_at TEXT NOT NULL,
            number TEXT,
            spot TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (incident_id, channel, chat)
        );
        CREATE INDEX incident_reports_number ON incident_reports (number);
        CREATE TABLE outages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            state TEXT NOT NULL DEFAULT 'active',
            area TEXT NOT NULL,
            category TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            cancelled_at TEXT
        );
        CREATE INDEX outages_window ON outages (state, area, ends_at);
        CREATE TABLE ticket_flags (
            number TEXT NOT NULL,
            flag TEXT NOT NULL,
            other TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            PRIMARY KEY (number, flag, other)
        );
        CREATE INDEX tickets_master ON tickets (master);
        CREATE INDEX tickets_category_area ON tickets (category, area, created_at);
        """,
    )


@MIGRATIONS(name="dispatch_0001_timers")
def _dispatch_timers(db: Database) -> None:
    # timers: one row per (ticket, clock cycle, kind, limit, threshold); the unique key
    # is what makes a fired reminder impossible to fire again after a restart.
    # workload: when each technician last got a job (auto mode: who waited longest).
    # follow_ups: satisfaction calls the dispatchers owe after a bad rating.
    _script(
        db,
        """
        ALTER TABLE tickets ADD COLUMN overdue TEXT NOT NULL DEFAULT '';
        CREATE TABLE timers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            number TEXT NOT NULL,
            cycle TEXT NOT NULL,
            kind TEXT NOT NULL,
            limit_name TEXT NOT NULL,
            threshold INTEGER NOT NULL,
            due_at TEXT NOT NULL,
            fired_at TEXT,
            outcome TEXT NOT NULL DEFAULT '',
            event_id INTEGER,
            UNIQUE (number, cycle, kind, limit_name, threshold)
        );
        CREATE INDEX timers_pending ON timers (due_at) WHERE fired_at IS NULL;
        CREATE INDEX timers_number ON timers (number);
        CREATE TABLE workload (
            technician TEXT PRIMARY KEY,
            last_job_at TEXT NOT NULL
        );
        CREATE TABLE follow_ups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            number TEXT NOT NULL,
            reason TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            event_id INTEGER NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'open',
            outcome TEXT NOT NULL DEFAULT '',
            done_at TEXT,
            done_by TEXT
        );
        CREATE INDEX follow_ups_status ON follow_ups (status, opened_at);
        """,
    )


@MIGRATIONS(name="perf_0001_list_indexes")
def _perf_list_indexes(db: Database) -> None:
    # due_key: the time limit of the ticket's current state (claim/arrive/resolve), or
    # '~' (after every ISO time) when it has none, so "deadline" sorts those last and
    # "overdue" is one range (due_key < now). A VIRTUAL generated column: SQLite keeps
    # it (and its indexes) right on every write, so no writer has to maintain it.
    # The list indexes end in (created_at, number) or (due_key, number): the sort of
    # tickets.queries, so a page is read in order and the LIMIT stops the scan
    # (without them `state = ? ORDER BY created_at DESC` sorted 895k rows: 2.4 s).
    _script(
        db,
        """
        ALTER TABLE tickets ADD COLUMN due_key TEXT GENERATED ALWAYS AS (
            COALESCE(CASE state
                WHEN 'new' THEN claim_due
                WHEN 'assigned' THEN arrive_due
                WHEN 'on_site' THEN resolve_due
                WHEN 'paused' THEN resolve_due
            END, '~')
        ) VIRTUAL;
        DROP INDEX tickets_created;
        DROP INDEX tickets_reporter;
        DROP INDEX tickets_holder;
        CREATE INDEX tickets_reporter_newest
            ON tickets (reporter_channel, reporter_chat, created_at, number);
        CREATE INDEX tickets_holder_state ON tickets (holder, state, created_at, number);
        CREATE INDEX tickets_newest ON tickets (created_at, number);
        CREATE INDEX tickets_state_newest ON tickets (state, created_at, number);
        CREATE INDEX tickets_area_newest ON tickets (area, created_at, number);
        CREATE INDEX tickets_holder_newest ON tickets (holder, created_at, number);
        CREATE INDEX tickets_due ON tickets (due_key, number);
        CREATE INDEX tickets_state_due ON tickets (state, due_key, number);
        CREATE INDEX tickets_holder_due ON tickets (holder, due_key, number);
        """,
    )


@MIGRATIONS(name="notify_0001_parts_sent")
def _notify_parts_sent(db: Database) -> None:
    # How many Bot API calls of a notice went out (issue 10, defect 4): a notice of
    # photos + text whose text failed resumes after the photos instead of sending them
    # again.
    _script(db, "ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;")


@MIGRATIONS(name="console_0001_staff")
def _console_staff(db: Database) -> None:
    # Console accounts; password_hash is argon2id (PHC string). Failed logins are kept
    # per account and per address so that throttling survives a restart.
    _script(
        db,
        """
        CREATE TABLE staff (
            login TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            dispatcher TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE staff_failures (
            key TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX staff_failures_key ON staff_failures (key, at);
        """,
    )


@MIGRATIONS(name="console_0002_phone")
def _console_phone(db: Database) -> None:
    # Phone intake shows a caller's tickets by number before filing (and the repeat
    # rules read them): without this a million tickets are scanned per lookup.
    _script(db, "CREATE INDEX tickets_phone ON tickets (phone, created_at, number);")


@MIGRATIONS(name="search_0001_fulltext_and_rollup")
def _search_fulltext_and_rollup(db: Database) -> None:
    # The search index (CJK cut into characters + bigrams by tickets.search) and the
    # statistics rollup (tickets.stats), both filled from the data already there. The
    # rollup's local days use the default time zone here (a migration has no config);
    # the zone is recorded in stats_zone, and tickets.stats.rebuild redoes it for another.
    from zoneinfo import ZoneInfo

    from tickets import search, stats

    _script(db, search.SCHEMA + ";" + stats.SCHEMA)
    search.rebuild(db.conn)
    stats.rebuild(db.conn, ZoneInfo("Asia/Shanghai"))


@MIGRATIONS(name="wechat_0001_offered_choices")
def _wechat_offered_choices(db: Database) -> None:
    # The choices last offered in a chat as numbered text (bots.channel.choices), so a
    # typed number answers after a restart or in another request (a WeChat callback).
    _script(
        db,
        """
        CREATE TABLE offered_choices (
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            offer TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (channel, chat)
        );
        """,
    )


@MIGRATIONS(name="wechat_0002_wechat")
def _wechat_tables(db: Database) -> None:
    # wechat_answers: what a callback was answered (its key is in processed_updates), so
    # WeChat's retry of a slow first answer gets the same reply and no second step.
    # wechat_tokens: the access token with its expiry, shared by every process.
    # wechat_users: followers who unsubscribed (43004) go to the fallback at once.
    _script(
        db,
        """
        CREATE TABLE wechat_answers (
            key TEXT PRIMARY KEY,
            answer TEXT NOT NULL,
            answered_at TEXT NOT NULL
        );
        CREATE TABLE wechat_tokens (
            app_id TEXT PRIMARY KEY,
            token TEXT NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE TABLE wechat_users (
            open_id TEXT PRIMARY KEY,
            subscribed INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    )


@MIGRATIONS(name="wechat_0003_wechat_photos")
def _wechat_photos(db: Database) -> None:
    # Pictures taken from each follower, for the hourly cap every channel applies.
    _script(
        db,
        """
        CREATE TABLE wechat_photos (
            chat TEXT NOT NULL,
            taken_at TEXT NOT NULL
        );
        CREATE INDEX wechat_photos_chat ON wechat_photos (chat, taken_at);
        """,
    )


@MIGRATIONS(name="wecom_0001_cards")
def _wecom_cards(db: Database) -> None:
    # wecom_cards: each job offer sent to a WeCom member as a template card (task_id is
    # WeCom's, unique per app) with the response_code that may update it once, so that
    # every receiver's card can be turned into "已由 张师傅 接单" once the job is taken.
    _script(
        db,
        """
        CREATE TABLE wecom_cards (
            task_id TEXT PRIMARY KEY,
            number TEXT NOT NULL,
            userid TEXT NOT NULL,
            locale TEXT NOT NULL,
            response_code TEXT NOT NULL,
            open INTEGER NOT NULL DEFAULT 1,
            sent_at TEXT NOT NULL
        );
        CREATE INDEX wecom_cards_open ON wecom_cards (number) WHERE open = 1;
        """,
    )


@MIGRATIONS(name="console_0003_stats_month")
def _console_stats_month(db: Database) -> None:
    # The statistics summed per month beside the day rows (a year by category read
    # ~380,000 day rows at a million tickets: 0.7 s); filled from the day rows (seconds).
    from tickets import stats

    _script(db, stats.MONTH_SCHEMA)
    stats.fill_months(db.conn)


@MIGRATIONS(name="flow_0001_receipt")
def _flow_receipt(db: Database) -> None:
    # Receipt of assigned jobs (接单确认, tickets.receipt): when the holder acknowledged
    # the job. Jobs held before this existed count as acknowledged, so that upgrading
    # does not suddenly hand them on.
    _script(
        db,
        """
        ALTER TABLE tickets ADD COLUMN acknowledged_at TEXT;
        UPDATE tickets SET acknowledged_at = updated_at
            WHERE holder IS NOT NULL AND state IN ('assigned', 'on_site', 'paused');
        """,
    )


@MIGRATIONS(name="perf_0002_outbox_fanout")
def _perf_outbox_fanout(db: Database) -> None:
    # fanout: the members (JSON list) of a team's offer queued as ONE row per channel and
    # fanned out into one row per member's chat when it is delivered (notice_rows.expand),
    # so that filing a ticket writes O(1) rows in the team's size (issue 11). The partial
    # index lets every delivery pass find the due ones without reading the outbox.
    _script(
        db,
        """
        ALTER TABLE outbox ADD COLUMN fanout TEXT;
        CREATE INDEX outbox_fanout_due ON outbox (channel, next_at)
            WHERE fanout IS NOT NULL AND status = 'pending';
        """,
    )


@MIGRATIONS(name="perf_0003_open_jobs")
def _perf_open_jobs(db: Database) -> None:
    # Open jobs per technician, kept by triggers on every write of a ticket row (so no
    # writer, bulk load or test fixture can leave it behind). Routing reads it for the
    # load of a whole team: counting the open tickets of 200 technicians took 6-11 ms a
    # new ticket at 1M tickets (17k open held tickets); this is 200 key look-ups.
    opened = "('assigned', 'new', 'on_site', 'paused')"
    _script(
        db,
        f"""
        CREATE TABLE open_jobs (
            technician TEXT PRIMARY KEY,
            n INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO open_jobs (technician, n)
            SELECT holder, COUNT(*) FROM tickets
            WHERE holder IS NOT NULL AND state IN {opened} GROUP BY holder;
        CREATE TRIGGER tickets_open_jobs_insert AFTER INSERT ON tickets
            WHEN NEW.holder IS NOT NULL AND NEW.state IN {opened}
        BEGIN
            INSERT INTO open_jobs (technician, n) VALUES (NEW.holder, 1)
                ON CONFLICT (technician) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER tickets_open_jobs_delete AFTER DELETE ON tickets
            WHEN OLD.holder IS NOT NULL AND OLD.state IN {opened}
        BEGIN
            UPDATE open_jobs SET n = n - 1 WHERE technician = OLD.holder;
        END;
        CREATE TRIGGER tickets_open_jobs_update AFTER UPDATE OF holder, state ON tickets
            WHEN OLD.holder IS NOT NEW.holder
                OR (OLD.state IN {opened}) != (NEW.state IN {opened})
        BEGIN
            UPDATE open_jobs SET n = n - 1
                WHERE technician = OLD.holder AND OLD.state IN {opened};
            INSERT INTO open_jobs (technician, n)
                SELECT NEW.holder, 1 WHERE NEW.holder IS NOT NULL AND NEW.state IN {opened}
                ON CONFLICT (technician) DO UPDATE SET n = n + 1;
        END;
        """,
    )


@MIGRATIONS(name="engine_0001_fault_changes")
def _engine_fault_changes(db: Database) -> None:
    # A mark that changes on every write of an incident or an outage, kept by triggers (so
    # every writer, in any process, moves it): a dialogue step asks "is there a known fault
    # here?" at every step of a report, and the store answers from what it read last time
    # while the mark is unchanged (tickets.incident_store). A random value rather than a
    # count: a rolled-back write must not let a later one reuse the mark of what was undone.
    tables = ("incidents", "outages")
    _script(db, _mark_table("fault_changes") + _on_every_write(tables, "fault", "fault_changes"))


@MIGRATIONS(name="export_0001_reporter_open_newest")
def _export_reporter_open_newest(db: Database) -> None:
    # A chat's "my tickets" (Store.tickets_of): open first, newest first, in one read in
    # index order. The expression must be written exactly as tickets_of orders by it
    # (store._OPEN_SQL); it was two reads (open, then the rest) at 3.6x the raw query.
    opened = "('assigned', 'new', 'on_site', 'paused')"
    _script(
        db,
        f"""
        CREATE INDEX tickets_reporter_open_newest ON tickets
            (reporter_channel, reporter_chat, state IN {opened}, created_at, number);
        """,
    )


@MIGRATIONS(name="wxrest_0001_wecom_members")
def _wxrest_wecom_members(db: Database) -> None:
    # wecom_members: WeCom 账号 that must not be bound again by themselves — deleted from
    # the corporation, renamed (detail: the new 账号), or unbound by an operator — so that
    # neither the configured 账号 bound at start nor the mobile match undoes the change.
    # Keyed by the 账号 in lower case (WeCom's are case-insensitive).
    _script(
        db,
        """
        CREATE TABLE wecom_members (
            userid TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        );
        """,
    )


@MIGRATIONS(name="fan_0001_search_automerge")
def _fan_search_automerge(db: Database) -> None:
    # FTS5 writes each transaction's terms as a new segment and, by default, merges every
    # 4 segments of a level: with one ticket a transaction that merging rewrote 10-20
    # pages of ticket_search_data per new ticket at a million tickets (a quarter of all
    # the pages its commit wrote). Merging every 8 writes 4-6; a search reads at most 7
    # segments of a level instead of 3 (issue 11).
    db.execute("INSERT INTO ticket_search (ticket_search, rank) VALUES ('automerge', 8)")


@MIGRATIONS(name="fan_0002_binding_changes")
def _fan_binding_changes(db: Database) -> None:
    # A mark that changes whenever a chat is bound to a person, unbound, or a bound chat
    # is deleted, kept by triggers (so every writer, in any process, moves it): a team's
    # offer goes to the channels its members are bound on, and the store answers that
    # from what it read last while the mark is unchanged (tickets.notice_rows) — 200
    # look-ups into chats for each new ticket of a team of 200 before (issue 11). Random,
    # like fault_changes: a rolled-back write must not let a later one reuse its mark.
    changed = "UPDATE binding_changes SET mark = random() WHERE id = 1;"
    _script(
        db,
        f"""
        {_mark_table("binding_changes")}
        CREATE TRIGGER chats_binding_insert AFTER INSERT ON chats
            WHEN NEW.person IS NOT NULL
        BEGIN
            {changed}
        END;
        CREATE TRIGGER chats_binding_update AFTER UPDATE OF person, channel ON chats
            WHEN OLD.person IS NOT NEW.person
                OR (NEW.person IS NOT NULL AND OLD.channel IS NOT NEW.channel)
        BEGIN
            {changed}
        END;
        CREATE TRIGGER chats_binding_delete AFTER DELETE ON chats
            WHEN OLD.person IS NOT NULL
        BEGIN
            {changed}
        END;
        """,
    )


@MIGRATIONS(name="fan2_0001_load_changes")
def _fan2_load_changes(db: Database) -> None:
    # A mark that changes whenever open_jobs or workload changes, kept by triggers (so
    # every writer, in any process, moves it; open_jobs is itself kept by the tickets'
    # triggers): each new ticket read both tables whole to rank its team, and a team of
    # 200 offered new tickets changes neither (issue 11). The store reads them again
    # only when the mark moved (tickets.dispatch_store.load_of). Random, like
    # binding_changes: a rolled-back write must not let a later one reuse its mark.
    tables = ("open_jobs", "workload")
    _script(db, _mark_table("load_changes") + _on_every_write(tables, "load", "load_changes"))


@MIGRATIONS(name="fan3_0001_index_diet")
def _fan3_index_diet(db: Database) -> None:
    # Every index of a table is one more page a new row dirties and its commit writes to
    # the WAL (issue 11: a new ticket wrote ~70 pages at a million tickets, one to two per
    # index of tickets). Dropped: tickets_state_team (no query filters on team through it;
    # every `state = ?` read uses tickets_state_newest), tickets_category_area (the
    # incident and duplicate look-ups read a few minutes of one area through
    # tickets_area_newest, or of all through tickets_newest), tickets_reporter_newest
    # (a reporter's tickets are read through tickets_reporter_open_newest, whose first two
    # columns are the same), timers_number (the first column of the timers' UNIQUE key).
    # Partial: the holder's lists and the duplicates' masters ask `holder = ?` /
    # `master = ?`, which no NULL can match, so rows without one — every new ticket —
    # need no entry (tickets_holder_state keeps the NULLs: the dispatcher's queue reads
    # `holder IS NULL AND state = ?` from it).
    _script(
        db,
        """
        DROP INDEX tickets_state_team;
        DROP INDEX tickets_category_area;
        DROP INDEX tickets_reporter_newest;
        DROP INDEX timers_number;
        DROP INDEX tickets_master;
        CREATE INDEX tickets_master ON tickets (master) WHERE master IS NOT NULL;
        DROP INDEX tickets_holder_newest;
        CREATE INDEX tickets_holder_newest ON tickets (holder, created_at, number)
            WHERE holder IS NOT NULL;
        DROP INDEX tickets_holder_due;
        CREATE INDEX tickets_holder_due ON tickets (holder, due_key, number)
            WHERE holder IS NOT NULL;
        """,
    )


@MIGRATIONS(name="fan3_0002_search_batches")
def _fan3_search_batches(db: Database) -> None:
    # How far new tickets are indexed for search (tickets.search.filed): they are indexed
    # 32 at a time, and a search first indexes the rest (issue 11). Every ticket already
    # here was indexed as it was filed.
    from tickets import search

    _script(db, search.MARK_SCHEMA)


@MIGRATIONS(name="fan3_0003_events_resolved_at")
def _fan3_events_resolved_at(db: Database) -> None:
    # events_at served one read only, the jobs each technician resolved since a time
    # (console_store.resolved_since, `at >= ? AND action = 'resolve'`): partial, so the
    # other events — a new ticket's acceptance, claims, timers — write no entry.
    _script(
        db,
        """
        DROP INDEX events_at;
        CREATE INDEX events_at ON events (at) WHERE action = 'resolve';
        """,
    )
