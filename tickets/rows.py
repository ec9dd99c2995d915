"""Rows ⇄ records for the store: chat and outbox records, and how tickets, events,
chats and outbox rows look in their tables. One text form for every time:
fixed-width ISO-8601 UTC, so that text order is time order in SQL.

No queries and no connection here (``tickets.store`` runs them); nothing else should
need these helpers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from tickets.model import Action, Event, Mode, Priority, Role, State, Ticket


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
    provider_id: str = ""
    parts_sent: int = 0  # platform calls of this notice already made (resume after them)


# Field kinds read from the annotations (strings, under ``from __future__ import
# annotations``), so a field added to Ticket is stored in the right form.
_TICKET_FIELDS = tuple(f.name for f in fields(Ticket))
_TIMES = frozenset(f.name for f in fields(Ticket) if "datetime" in str(f.type))
_LISTS = frozenset(f.name for f in fields(Ticket) if str(f.type).startswith("tuple"))
_ENUMS: dict[str, type[State] | type[Priority] | type[Mode]] = {
    "state": State,
    "priority": Priority,
    "mode": Mode,
    "paused_from": State,
}


def aware(moment: datetime) -> datetime:
    """``moment`` itself; a naive time is refused, since nobody could tell its zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: baoxiu keeps aware UTC times")
    return moment


def iso(moment: datetime) -> str:
    """Fixed-width UTC text, e.g. ``2026-11-23T08:00:00.000000+00:00``."""
    # A change writes the same few moments ~20 times (event, row, outbox, timers): each
    # is formatted once. Aware moments that compare equal are the same instant, whose
    # UTC text is the same; a naive one is refused before anything is kept.
    text = _ISO.get(moment)
    if text is None:
        # isoformat: the same text as strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") of a UTC
        # time (microseconds always written), in a quarter less time.
        text = aware(moment).astimezone(UTC).isoformat(timespec="microseconds")
        if len(_ISO) >= 512:
            _ISO.clear()
        _ISO[moment] = text
    return text


_ISO: dict[datetime, str] = {}


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def to_json(value: Any) -> str:
    return _ENCODE(value)


# What json.dumps(value, ensure_ascii=False, sort_keys=True) does, without making a new
# encoder for each call (an event's data and each notice's parameters are encoded).
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def ticket_row(ticket: Ticket) -> dict[str, Any]:
    # Every new ticket and every change writes the whole row: the ticket's field dict in
    # field order (the order of its INSERT's columns), then the ~15 fields stored in
    # another form converted (times, lists, enums; a converter per field, chosen once).
    fields_ = ticket.__dict__
    row = {name: fields_[name] for name in _TICKET_FIELDS}
    for name, convert in _CONVERTED:
        value = row[name]
        if value is not None:
            row[name] = convert(value)
    return row


def _list_text(value: Sequence[Any]) -> str:
    return to_json(list(value)) if value else "[]"


def _enum_text(value: State | Priority | Mode) -> str:
    return value.value


_WRITERS = tuple(
    (
        name,
        iso
        if name in _TIMES
        else _list_text
        if name in _LISTS
        else _enum_text
        if name in _ENUMS
        else None,
    )
    for name in _TICKET_FIELDS
)


_CONVERTED = tuple((name, convert) for name, convert in _WRITERS if convert is not None)


def ticket_from_row(row: dict[str, Any]) -> Ticket:
    # One converter per field, chosen once (a list page reads 50 rows of 40 fields).
    values = {}
    for name, convert in _READERS:
        value = row[name]
        values[name] = value if value is None or convert is None else convert(value)
    return _ticket(values)


def tickets_from_rows(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[Ticket]:
    """Tickets of plain row tuples with columns ``names`` (``cursor.description``), with
    no dict per row: the list pages' decoding (issue 11: ~20 µs a row before)."""
    plan = _plan(tuple(names))
    found = []
    for row in rows:
        values = {}
        for name, at, convert in plan:
            value = row[at]
            values[name] = value if value is None or convert is None else convert(value)
        found.append(_ticket(values))
    return found


def _ticket(values: dict[str, Any]) -> Ticket:
    """A Ticket of already converted field values. Stored rows were valid Tickets when
    written, so the frozen dataclass's __init__ (40 object.__setattr__ calls) is skipped:
    the instance gets its field dict at once, which is all __init__ would leave."""
    ticket = _NEW(Ticket)
    ticket.__dict__.update(values)
    return ticket


def new_ticket(values: dict[str, Any]) -> Ticket:
    """``Ticket(**values)`` for a ticket being filed, without the frozen __init__'s 45
    ``object.__setattr__`` calls: the defaults, then ``values``; every field given or
    defaulted, nothing else (as __init__ would insist)."""
    full = {**_DEFAULTS, **values}
    if full.keys() != _FIELD_SET:
        raise TypeError(f"not the fields of a Ticket: {sorted(full.keys() ^ _FIELD_SET)}")
    return _ticket(full)


_DEFAULTS = {f.name: f.default for f in fields(Ticket) if f.default is not MISSING}
_FIELD_SET = frozenset(_TICKET_FIELDS)
_Record = TypeVar("_Record", Ticket, Event)


def copy_with(record: _Record, **changes: Any) -> _Record:
    """``dataclasses.replace(record, **changes)`` of a Ticket or an Event, whose __init__
    only sets their fields (no __post_init__, every field in __init__): their field dict
    copied and ``changes`` set, in an eighth of replace's time (a new ticket and each
    change copy both a few times)."""
    if not changes.keys() <= record.__dict__.keys():
        raise TypeError(f"not fields of {type(record).__name__}: {sorted(changes)}")
    copy = _NEW(type(record))
    fields_ = copy.__dict__
    fields_.update(record.__dict__)
    fields_.update(changes)  # frozen: set as replace's __init__ would
    return copy


_NEW = object.__new__
_PLANS: dict[tuple[str, ...], tuple[tuple[str, int, Any], ...]] = {}


def _plan(names: tuple[str, ...]) -> tuple[tuple[str, int, Any], ...]:
    plan = _PLANS.get(names)
    if plan is None:
        at = {name: i for i, name in enumerate(names)}
        plan = _PLANS[names] = tuple((name, at[name], convert) for name, convert in _READERS)
    return plan


def _read_list(text: str) -> tuple[Any, ...]:
    return () if text == "[]" else tuple(json.loads(text))


def _enum_reader(kind: type[State] | type[Priority] | type[Mode]) -> Any:
    members = {m.value: m for m in kind}
    return lambda value: members.get(value) or kind(value)


_READERS: tuple[tuple[str, Any], ...] = tuple(
    (
        name,
        when
        if name in _TIMES
        else _read_list
        if name in _LISTS
        else _enum_reader(_ENUMS[name])
        if name in _ENUMS
        else None,
    )
    for name in _TICKET_FIELDS
)


@functools.lru_cache(maxsize=64)
def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table (columns) VALUES (?, …)``, made once per table and column list
    (a ticket row has ~45 columns); positional: binding 45 named parameters took twice
    the time of the insert itself."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


@functools.lru_cache(maxsize=64)
def update_sql(columns: tuple[str, ...]) -> str:
    """The UPDATE of a ticket's ``columns`` (positional, then its number and version)."""
    assignments = ", ".join(f"{name} = ?" for name in columns)
    return f"UPDATE tickets SET {assignments} WHERE number = ? AND version = ?"


def event_row(event: Event) -> dict[str, Any]:
    return {
        "number": event.number,
        "at": iso(event.at),
        "actor_role": event.actor_role.value,
        "actor_id": event.actor_id,
        "action": event.action.value,
        "from_state": event.from_state.value if event.from_state is not None else None,
        "to_state": event.to_state.value,
        "note": event.note,
        "data": to_json(event.data),
    }


def event_from_row(row: dict[str, Any]) -> Event:
    return Event(
        number=row["number"],
        at=datetime.fromisoformat(row["at"]),
        actor_role=Role(row["actor_role"]),
        actor_id=row["actor_id"],
        action=Action(row["action"]),
        from_state=State(row["from_state"]) if row["from_state"] else None,
        to_state=State(row["to_state"]),
        note=row["note"],
        data=json.loads(row["data"] or "{}"),
        id=row["id"],
    )


def chat_from_row(row: dict[str, Any]) -> ChatRecord:
    return ChatRecord(**{f.name: row[f.name] for f in fields(ChatRecord)})


def outbox_from_row(row: dict[str, Any]) -> OutboxRow:
    values = {f.name: row[f.name] for f in fields(OutboxRow)}
    values["params"] = json.loads(row["params"] or "{}")
    values["next_at"] = datetime.fromisoformat(row["next_at"])
    values["created_at"] = datetime.fromisoformat(row["created_at"])
    values["sent_at"] = when(row["sent_at"])
    return OutboxRow(**values)
