"""Filing a ticket (``Store.create_ticket``): the draft checked, its number taken from
the day's sequence, routed, written with its acceptance event, its notices and its
timers, the reporter's chat remembered and the rules run on it — all in one transaction.

The rules of routing, time limits and notices are not here (``tickets.dispatch_store``,
``tickets.sla``, ``tickets.notices``); like the store, this module sends nothing.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tickets import dispatch_store, search, workflow
from tickets.errors import InvalidInput
from tickets.model import Action, Actor, Draft, Event, State, Ticket
from tickets.rows import aware, iso, new_ticket, ticket_row

if TYPE_CHECKING:
    from tickets.store import Store

_DRAFT_FIELDS = tuple(f.name for f in fields(Draft) if f.name != "photos")


def create(store: Store, draft: Draft, now: datetime, actor: Actor | None) -> Ticket:
    category = store.config.category(draft.category)
    if category is None:
        raise InvalidInput("errors.unknown_category", category=draft.category)
    if len(draft.photos) > workflow.MAX_PHOTOS:
        raise InvalidInput("errors.too_many_photos", limit=workflow.MAX_PHOTOS)
    limits = category.limits
    with store.transaction():
        # A shallow copy: a draft holds only text, numbers and a tuple, and asdict's
        # deep copy was a tenth of the Python time of a new ticket.
        values = {name: getattr(draft, name) for name in _DRAFT_FIELDS}
        ticket = new_ticket(
            values
            | {
                "photos": tuple(draft.photos),
                "number": next_number(store, now),
                "state": State.NEW,
                "team": category.team,
                "priority": category.priority,
                "mode": category.mode,
                "created_at": now,
                "updated_at": now,
                "claim_due": now + timedelta(minutes=limits.claim),
                "arrive_due": now + timedelta(minutes=limits.arrive),
                "resolve_due": now + timedelta(minutes=limits.resolve),
            }
        )
        ticket, routed = dispatch_store.prepare(store, ticket, now)
        rowid = store._insert("tickets", ticket_row(ticket))
        by = actor or Actor.reporter(draft.reporter_channel, draft.reporter_chat)
        accept = Event(
            ticket.number, now, by.role, by.id, Action.ACCEPT, None, State.NEW, data=routed
        )
        accept = store._record(None, ticket, accept)
        # Indexed with its batch of new tickets.
        search.filed(store.db.conn, rowid, store.mark("search"))
        store.db.execute(
            "INSERT INTO chats (channel, chat, last_phone, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (channel, chat) DO UPDATE SET "
            "last_phone = excluded.last_phone, updated_at = excluded.updated_at",
            [draft.reporter_channel, draft.reporter_chat, draft.phone, iso(now)],
        )
        store.after_accept(ticket, accept, now)  # repeats, duplicates, incidents
        return dispatch_store.accepted(store, ticket, accept)


def next_number(store: Store, now: datetime) -> str:
    day = aware(now).astimezone(store._zone).strftime("%Y%m%d")
    row = store.db.execute(
        "INSERT INTO day_seq (day, last) VALUES (?, 1) "
        "ON CONFLICT (day) DO UPDATE SET last = last + 1 RETURNING last",
        [day],
    ).fetchone()
    return f"BX{day}-{row[0]:04d}"
