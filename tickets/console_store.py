"""The console's own reads and its two event-only writes.

``note`` and ``phone_shown`` append an event (``Action.NOTE`` / ``Action.PHONE_SHOWN``)
to a ticket's timeline without changing the ticket and without notices: a staff
member's internal note, and the record that someone was shown the reporter's full phone.
Everything that changes a ticket goes through ``Store.apply`` / ``set_priority`` /
``create_ticket``, never through here. Time comes in as an argument.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tickets.errors import InvalidInput
from tickets.model import Action, Actor, Event, Ticket
from tickets.rows import event_row, iso, ticket_from_row

if TYPE_CHECKING:
    from tickets.store import Store

MAX_NOTE = 2000


def _append(
    store: Store, number: str, actor: Actor, action: Action, note: str, now: datetime
) -> Event:
    with store.transaction():
        ticket = store.get(number)
        event = Event(
            number=ticket.number,
            at=now,
            actor_role=actor.role,
            actor_id=actor.id,
            action=action,
            from_state=ticket.state,
            to_state=ticket.state,
            note=note,
            data={"name": actor.name} if actor.name else {},
        )
        row = event_row(event)
        columns = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        store.db.execute(f"INSERT INTO events ({columns}) VALUES ({marks})", row)
    return event


def note(store: Store, number: str, actor: Actor, text: str, now: datetime) -> Event:
    text = text.strip()
    if not text:
        raise InvalidInput("console.note_empty")
    if len(text) > MAX_NOTE:
        raise InvalidInput("console.note_too_long", limit=MAX_NOTE)
    return _append(store, number, actor, Action.NOTE, text, now)


def phone_shown(store: Store, number: str, actor: Actor, now: datetime) -> Event:
    return _append(store, number, actor, Action.PHONE_SHOWN, "", now)


def last_event_id(store: Store) -> int:
    rows = store.query("SELECT max(id) AS n FROM events")
    return int(rows[0]["n"] or 0)


def new_tickets_since(store: Store, event_id: int, limit: int = 50) -> list[tuple[int, str]]:
    """(event id, ticket number) of tickets filed after event ``event_id``: the tail of the
    event log read by its primary key, so a waiting queue page costs one index probe."""
    rows = store.query(
        "SELECT id, number FROM events WHERE id > ? AND action = 'accept' ORDER BY id LIMIT ?",
        [event_id, limit],
    )
    return [(int(r["id"]), str(r["number"])) for r in rows]


def tickets_of_phone(store: Store, phone: str, limit: int = 20) -> list[Ticket]:
    """A caller's tickets by phone number, newest first, whatever channel they used
    (index ``tickets_phone`` of migration ``console_0002_phone``)."""
    rows = store.query(
        "SELECT * FROM tickets WHERE phone = ? ORDER BY created_at DESC, number DESC LIMIT ?",
        [phone, limit],
    )
    return [ticket_from_row(r) for r in rows]


def resolved_since(store: Store, since: datetime) -> dict[str, int]:
    """Jobs each technician completed since ``since`` (read through index ``events_at``,
    which holds the resolve events only: the condition must stay ``action = 'resolve'``)."""
    rows = store.query(
        "SELECT actor_id, count(*) AS n FROM events WHERE at >= ? AND action = 'resolve'"
        " GROUP BY actor_id",
        [iso(since)],
    )
    return {str(r["actor_id"]): int(r["n"]) for r in rows}


def last_sign_in(store: Store, technician: str) -> Ticket | None:
    """The ticket the technician last signed in at (its place; ``signed_in_at`` the time),
    read through the holder index rather than the whole event log."""
    rows = store.query(
        "SELECT * FROM tickets WHERE holder = ? AND signed_in_at IS NOT NULL"
        " ORDER BY signed_in_at DESC LIMIT 1",
        [technician],
    )
    return ticket_from_row(rows[0]) if rows else None
