"""The store side of the repeat, duplicate, incident and outage rules.

``RuleStore`` is mixed into ``tickets.store.Store``: its methods run on the store's
connection, inside the store's transactions, and write the rules' tables (``incidents``,
``incident_reports``, ``outages``, ``ticket_flags``) and their notices (outbox rows,
keyed so that a retried command never tells anyone twice). The rules themselves are the
pure functions of ``tickets.repeats``, ``tickets.incidents`` and ``tickets.outages``;
who may do what to a ticket stays in ``tickets.workflow`` (hurry and reopen go through
``Store.apply``).

Two entry points change things: ``after_accept`` (the store calls it for every new
ticket: repeat flag, duplicate suggestions, incident detection and linking) and
``perform_rule`` (the engine and the CLI call it for a rule command: a repeat report,
joining an incident, opening or closing one, publishing or cancelling an outage).
Everything else only reads. Nothing here sends anything.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlite_utils import Database

from config.model import Config
from tickets.errors import InvalidInput, NotAllowed
from tickets.incidents import Incident, IncidentState, Linked, covering
from tickets.model import OPEN_STATES, Action, Actor, Event, Role, Ticket
from tickets.outages import Outage, OutageState
from tickets.outages import covering as outage_covering
from tickets.rows import ChatRecord, iso, to_json, when

PERSONAL, BROADCAST = 1, 2  # outbox priorities, as in tickets.notices
DISPATCHERS_ONLY = frozenset({"incident.open", "incident.close", "outage.add", "outage.cancel"})
# Written exactly as the expression of index tickets_reporter_open_newest (tickets.store).
_OPEN_SQL = f"state IN ({', '.join(repr(s.value) for s in sorted(OPEN_STATES))})"


class Host(Protocol):
    """What the rules need of the store they are mixed into."""

    config: Config
    db: Database
    fault_cache: KnownFaults | None

    def transaction(self) -> AbstractContextManager[None]: ...

    def reader(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def fault_mark(self) -> int: ...

    def ticket(self, number: str) -> Ticket | None: ...

    def get(self, number: str) -> Ticket: ...

    def chats_of_person(self, person: str) -> list[ChatRecord]: ...

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

    def _tickets(
        self, where: str, params: list[Any], *, order: str = ..., limit: int | None = None
    ) -> list[Ticket]: ...

    def _locale_of(self, channel: str, chat: str, default: str | None = None) -> str: ...

    def _insert(self, table: str, row: dict[str, Any]) -> int: ...


class RuleStore:
    """The rules' reads and writes as methods of the store, so that the dialogues reach
    them through ``ctx.lookup`` like every other question (see the module docstring)."""

    def incident(self: Host, incident_id: int) -> Incident | None:
        return get_incident(self, incident_id)

    def incidents(self: Host, *states: IncidentState) -> list[Incident]:
        """Incidents in ``states`` (every one when none is given), newest first."""
        return list_incidents(self, *states)

    def incident_for(
        self: Host,
        area: str,
        category: str,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Incident | None:
        """The open incident a report of ``category`` at this place belongs to."""
        return incident_covering(self, area, category, latitude, longitude)

    def linked(self: Host, incident_id: int) -> list[Linked]:
        """The reporters linked to an incident, first joined first."""
        return linked_reports(self, incident_id)

    def outage(self: Host, outage_id: int) -> Outage | None:
        return get_outage(self, outage_id)

    def outages(self: Host, now: datetime | None = None) -> list[Outage]:
        """Published outages not over at ``now`` (every one, cancelled too, without it)."""
        return list_outages(self, now)

    def outage_for(self: Host, area: str, category: str, now: datetime) -> Outage | None:
        """The planned outage going on now for ``category`` in ``area``."""
        return outage_now(self, area, category, now)

    def followers(self: Host, number: str) -> list[str]:
        """Duplicates merged into ``number`` (and into those): their reporters hear what
        its reporter hears."""
        return followers_of(self, number)

    def flags(self: Host, number: str) -> list[tuple[str, str]]:
        """The rules' marks on a ticket: ``(flag, other)``, e.g. ``("repeat", "BX…")``."""
        return flags_of(self, number)

    def after_accept(self: Host, ticket: Ticket, event: Event, now: datetime) -> None:
        """Run the rules on a ticket just accepted, in the transaction that created it."""
        from tickets.rule_effects import accepted  # it builds on this module

        accepted(self, ticket, event, now)

    def perform_rule(
        self: Host, kind: str, params: dict[str, Any], actor: Actor, now: datetime
    ) -> Ticket | None:
        """Do one rule command in one transaction; returns the ticket it changed, if any.
        Raises ``InvalidInput`` / ``NotAllowed`` / ``TicketNotFound`` and changes nothing."""
        from tickets.rule_effects import COMMANDS

        command = COMMANDS.get(kind)
        if command is None:
            raise InvalidInput("errors.invalid_input")
        if kind in DISPATCHERS_ONLY and actor.role not in (Role.DISPATCHER, Role.SYSTEM):
            raise NotAllowed("dispatch.only")
        with self.transaction():
            return command(self, dict(params), actor, now)


# -- reads ----------------------------------------------------------------------------


def get_incident(store: Host, incident_id: int) -> Incident | None:
    rows = store.query("SELECT * FROM incidents WHERE id = ?", [incident_id])
    return _incident(rows[0]) if rows else None


def list_incidents(store: Host, *states: IncidentState) -> list[Incident]:
    wanted = [s.value for s in states] or [s.value for s in IncidentState]
    marks = ", ".join("?" for _ in wanted)
    rows = store.query(f"SELECT * FROM incidents WHERE state IN ({marks}) ORDER BY id DESC", wanted)
    return [_incident(r) for r in rows]


def incident_covering(
    store: Host,
    area: str,
    category: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Incident | None:
    return covering(
        open_incidents(store),
        area=area,
        category=category,
        latitude=latitude,
        longitude=longitude,
        radius_m=store.config.incidents.radius_m,
    )


def linked_reports(store: Host, incident_id: int) -> list[Linked]:
    rows = store.query(
        "SELECT * FROM incident_reports WHERE incident_id = ? ORDER BY joined_at, channel, chat",
        [incident_id],
    )
    return [_linked(r) for r in rows]


def get_outage(store: Host, outage_id: int) -> Outage | None:
    rows = store.query("SELECT * FROM outages WHERE id = ?", [outage_id])
    return _outage(rows[0]) if rows else None


def list_outages(store: Host, now: datetime | None = None) -> list[Outage]:
    if now is None:
        rows = store.query("SELECT * FROM outages ORDER BY starts_at, id")
    else:
        rows = store.query(
            "SELECT * FROM outages WHERE state = 'active' AND ends_at > ? ORDER BY starts_at, id",
            [iso(now)],
        )
    return [_outage(r) for r in rows]


def outage_now(store: Host, area: str, category: str, now: datetime) -> Outage | None:
    return outage_covering(active_outages(store, now), area=area, category=category, now=now)


@dataclass(frozen=True)
class KnownFaults:
    """What the store read last of incidents and outages, valid while ``fault_changes``
    holds ``mark`` (triggers move it on every write of either table, in any process):
    the open incidents, and the active outages not over at ``since``. Replaced whole,
    never changed, so threads sharing the store never see half of one."""

    mark: int
    incidents: tuple[Incident, ...] | None = None
    proposed: tuple[Incident, ...] | None = None  # newest first
    outages: tuple[Outage, ...] | None = None
    since: datetime | None = None


def _known(store: Host) -> KnownFaults:
    mark, cached = store.fault_mark(), store.fault_cache
    return cached if cached is not None and cached.mark == mark else KnownFaults(mark)


def open_incidents(store: Host) -> tuple[Incident, ...]:
    """The open incidents (a dialogue step asks at every step of a report: while none
    was written since the last read, this costs one single-row read)."""
    known = _known(store)
    if known.incidents is None:
        rows = store.query("SELECT * FROM incidents WHERE state = 'open'")
        known = replace(known, incidents=tuple(_incident(r) for r in rows))
        store.fault_cache = known
    return known.incidents or ()


def proposed_incidents(store: Host) -> tuple[Incident, ...]:
    """The proposed incidents, newest first (every new ticket asks, to not propose the
    same one again: while none was written since the last read, one single-row read)."""
    known = _known(store)
    if known.proposed is None:
        known = replace(known, proposed=tuple(list_incidents(store, IncidentState.PROPOSED)))
        store.fault_cache = known
    return known.proposed or ()


def active_outages(store: Host, now: datetime) -> tuple[Outage, ...]:
    """The active outages not over at ``now`` (read again when ``now`` is earlier than the
    last read's: those over by then were left out)."""
    known = _known(store)
    if known.outages is None or known.since is None or now < known.since:
        rows = store.query(
            "SELECT * FROM outages WHERE state = 'active' AND ends_at > ?", [iso(now)]
        )
        known = replace(known, outages=tuple(_outage(r) for r in rows), since=now)
        store.fault_cache = known
    return known.outages or ()


def followers_of(store: Host, number: str) -> list[str]:
    rows = store.query(
        "WITH RECURSIVE f(number) AS ("
        " SELECT number FROM tickets WHERE master = ? AND state = 'duplicate'"
        " UNION SELECT t.number FROM tickets t JOIN f ON t.master = f.number"
        " WHERE t.state = 'duplicate')"
        " SELECT number FROM f ORDER BY number",
        [number],
    )
    return [r["number"] for r in rows]


def flags_of(store: Host, number: str) -> list[tuple[str, str]]:
    rows = store.query(
        "SELECT flag, other FROM ticket_flags WHERE number = ? ORDER BY at, flag, other", [number]
    )
    return [(r["flag"], r["other"]) for r in rows]


# -- rows -------------------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    return when(value) if isinstance(value, str) else None


def _incident(row: dict[str, Any]) -> Incident:
    created = _time(row["created_at"])
    assert created is not None
    return Incident(
        id=int(row["id"]),
        state=IncidentState(row["state"]),
        category=row["category"],
        area=row["area"],
        created_at=created,
        latitude=row["latitude"],
        longitude=row["longitude"],
        master=row["master"],
        note=row["note"],
        expected_at=_time(row["expected_at"]),
        opened_at=_time(row["opened_at"]),
        closed_at=_time(row["closed_at"]),
        opened_by=row["opened_by"],
        closed_by=row["closed_by"],
        resolution=row["resolution"],
    )


def _linked(row: dict[str, Any]) -> Linked:
    joined = _time(row["joined_at"])
    assert joined is not None
    return Linked(
        incident=int(row["incident_id"]),
        channel=row["channel"],
        chat=row["chat"],
        locale=row["locale"],
        joined_at=joined,
        number=row["number"],
        spot=row["spot"],
        description=row["description"],
    )


def _outage(row: dict[str, Any]) -> Outage:
    starts, ends, created = (_time(row[k]) for k in ("starts_at", "ends_at", "created_at"))
    assert starts is not None and ends is not None and created is not None
    return Outage(
        id=int(row["id"]),
        area=row["area"],
        category=row["category"],
        starts_at=starts,
        ends_at=ends,
        reason=row["reason"],
        state=OutageState(row["state"]),
        created_at=created,
        created_by=row["created_by"],
        cancelled_at=_time(row["cancelled_at"]),
    )


# -- helpers shared with tickets.rule_effects ------------------------------------------------


def stamp(moment: datetime | None) -> str | None:
    """A time as notice params carry it (ISO-8601 UTC), like ``tickets.notices``."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def recent(
    store: Host, ticket: Ticket, minutes: int, *, by: str, radius_m: float, limit: int = 500
) -> list[Ticket]:
    """Tickets of ``ticket``'s category created in the ``minutes`` before it at the same
    place, oldest first: ``by`` ``"area"`` (incidents) or ``"building"`` (duplicates),
    or near its coordinates. Bounded, so a storm of reports costs each new one the same;
    the pure rules make the exact choice among them."""
    since = ticket.created_at - timedelta(minutes=minutes)
    places: list[str] = []
    params: list[Any] = [ticket.category, iso(since), ticket.number]
    if by == "area" and ticket.area:
        places.append("area = ?")
        params.append(ticket.area)
    elif by == "building" and ticket.building:
        places.append("(area = ? AND building = ?)")
        params += [ticket.area, ticket.building]
    if ticket.latitude is not None and ticket.longitude is not None and not places:
        # About 111 km per degree of latitude; a box a little larger than the circle.
        d_lat = radius_m / 111_000 * 1.1
        d_lon = d_lat / max(0.01, math.cos(math.radians(ticket.latitude)))
        places.append("(latitude BETWEEN ? AND ? AND longitude BETWEEN ? AND ?)")
        params += [
            ticket.latitude - d_lat,
            ticket.latitude + d_lat,
            ticket.longitude - d_lon,
            ticket.longitude + d_lon,
        ]
    if not places:
        return []
    where = f"category = ? AND created_at >= ? AND number != ? AND ({' OR '.join(places)})"
    return store._tickets(where, params, limit=limit)


def mine(store: Host, ticket: Ticket) -> list[Ticket]:
    """The reporter's other tickets of the same category (closed ones first, each part
    oldest first: the order of index tickets_reporter_open_newest, so nothing is sorted)."""
    return store._tickets(
        "reporter_channel = ? AND reporter_chat = ? AND +category = ? AND number != ?",
        [ticket.reporter_channel, ticket.reporter_chat, ticket.category, ticket.number],
        order=f"{_OPEN_SQL}, created_at, number",
    )


def flag(store: Host, number: str, name: str, other: str, now: datetime) -> None:
    store.db.execute(
        "INSERT INTO ticket_flags (number, flag, other, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [number, name, other, iso(now)],
    )


def tell(
    store: Host,
    scope: str,
    kind: str,
    chats: list[tuple[str, str, str]],
    params: dict[str, Any],
    now: datetime,
    *,
    number: str | None = None,
    priority: int = PERSONAL,
) -> int:
    """Queue notice ``kind`` for each ``(channel, chat, locale)``; the key
    ``rule:<scope>:<kind>:<channel>:<chat>`` makes a second try of the same thing a no-op.
    Returns how many rows were new."""
    new = 0
    for channel, chat, locale in dict.fromkeys(chats):
        cursor = store.db.execute(
            "INSERT INTO outbox (key, number, event_id, kind, channel, chat, locale, params,"
            " priority, status, attempts, next_at, created_at)"
            " VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            [
                f"rule:{scope}:{kind}:{channel}:{chat}",
                number,
                kind,
                channel,
                chat,
                locale,
                to_json(params),
                priority,
                iso(now),
                iso(now),
            ],
        )
        new += cursor.rowcount
    return new


def dispatcher_chats(store: Host, *, besides: str = "") -> list[tuple[str, str, str]]:
    """Every chat bound to a configured dispatcher but ``besides`` (who acted knows)."""
    found: list[tuple[str, str, str]] = []
    for person in store.config.dispatchers:
        if person.id == besides:
            continue
        for chat in store.chats_of_person(person.id):
            found.append((chat.channel, chat.chat, chat.locale or store.config.locale))
    return found


def reporter_chat(store: Host, ticket: Ticket) -> tuple[str, str, str]:
    where = (ticket.reporter_channel, ticket.reporter_chat)
    return (*where, store._locale_of(*where, default=ticket.reporter_locale))
