"""The incident and outage commands of ``Store.perform_rule``, and the incident helpers
``tickets.rule_effects`` uses when a new ticket arrives: open an incident (from a proposal,
around a ticket, or for an area and a category) and link the open reports it covers,
close it and tell every linked reporter once, join a resident's report to it; publish a
planned outage and tell the residents whose open report it explains, cancel one.

Decisions are the pure ``tickets.incidents`` / ``tickets.outages``'; writes go through the
store's connection inside its transaction (``tickets.incident_store``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tickets.errors import InvalidInput, NotAllowed
from tickets.incident_store import (
    Host,
    dispatcher_chats,
    get_incident,
    get_outage,
    linked_reports,
    list_incidents,
    reporter_chat,
    stamp,
    tell,
)
from tickets.incidents import Incident, IncidentState, category_covers, covers, expected
from tickets.model import OPEN_STATES, Action, Actor, Role, Ticket
from tickets.outages import OutageState
from tickets.rows import iso, when

_OPEN = ", ".join(repr(s.value) for s in sorted(OPEN_STATES))


# -- incidents ---------------------------------------------------------------------------


def insert_incident(
    store: Host,
    *,
    state: IncidentState,
    category: str,
    area: str,
    now: datetime,
    by: str,
    latitude: float | None = None,
    longitude: float | None = None,
    master: str | None = None,
    note: str = "",
    expected_at: datetime | None = None,
) -> Incident:
    opened = state is IncidentState.OPEN
    row = {
        "state": state.value,
        "category": category,
        "area": area,
        "latitude": latitude,
        "longitude": longitude,
        "master": master,
        "note": note,
        "expected_at": iso(expected_at) if expected_at else None,
        "created_at": iso(now),
        "opened_at": iso(now) if opened else None,
        "opened_by": by if opened else "",
    }
    found = get_incident(store, store._insert("incidents", row))
    assert found is not None
    return found


def covers_ticket(store: Host, incident: Incident, ticket: Ticket) -> bool:
    return covers(
        incident,
        area=ticket.area,
        category=ticket.category,
        latitude=ticket.latitude,
        longitude=ticket.longitude,
        radius_m=store.config.incidents.radius_m,
    )


def link_reports(store: Host, incident: Incident, tickets: list[Ticket], now: datetime) -> None:
    """Link each ticket's reporter to ``incident`` and tell them once that their fault is
    a known one, being handled."""
    for ticket in tickets:
        channel, chat, locale = reporter_chat(store, ticket)
        store.db.execute(
            "INSERT INTO incident_reports (incident_id, channel, chat, locale, joined_at,"
            " number, spot, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [incident.id, channel, chat, locale, iso(now), ticket.number, ticket.spot, ""],
        )
        params = {
            "incident": incident.id,
            "number": ticket.number,
            "category": incident.category,
            "area": incident.area,
            "expected_at": stamp(incident.expected_at),
            "note": incident.note,
        }
        chats = [(channel, chat, locale)]
        scope = f"inc{incident.id}"
        tell(store, scope, "reporter.incident_joined", chats, params, now, number=ticket.number)


def _open_covered(store: Host, incident: Incident) -> list[Ticket]:
    if incident.area:
        found = store._tickets(f"area = ? AND state IN ({_OPEN})", [incident.area])
    else:
        found = store._tickets(f"state IN ({_OPEN}) AND latitude IS NOT NULL", [])
    return [t for t in found if covers_ticket(store, incident, t)]


def _moment(params: dict[str, Any], key: str) -> datetime | None:
    value = params.get(key)
    return when(value) if isinstance(value, str) and value else None


def open_incident(
    store: Host, params: dict[str, Any], actor: Actor, now: datetime
) -> Ticket | None:
    """Open a proposed incident (``id``), or declare one around a ticket (``number``) or
    for an area and a category; ``expected`` (ISO time) and ``note`` are optional."""
    rules = store.config.incidents
    note = str(params.get("note", "")).strip()
    eta = expected(rules, now, _moment(params, "expected"))
    if eta <= now:
        raise InvalidInput("incidents.eta_past")
    if "id" in params:
        found = get_incident(store, int(params["id"]))
        if found is None:
            raise InvalidInput("incidents.unknown", incident=params["id"])
        if found.state is not IncidentState.PROPOSED:
            raise InvalidInput("incidents.not_proposed", incident=found.code)
        store.db.execute(
            "UPDATE incidents SET state = 'open', opened_at = ?, opened_by = ?, expected_at = ?,"
            " note = ? WHERE id = ?",
            [iso(now), actor.id, iso(eta), note, found.id],
        )
        incident = get_incident(store, found.id)
    else:
        master: Ticket | None = None
        if params.get("number"):
            master = store.get(str(params["number"]))
            area, category = master.area, master.category
        else:
            area, category = str(params.get("area", "")), str(params.get("category", ""))
            _check_place(store, area, category)
        for known in list_incidents(store, IncidentState.OPEN):
            if known.area == area and known.category == category and area:
                raise InvalidInput("incidents.already_open", incident=known.code)
        incident = insert_incident(
            store,
            state=IncidentState.OPEN,
            category=category,
            area=area,
            latitude=master.latitude if master and not area else None,
            longitude=master.longitude if master and not area else None,
            master=master.number if master else None,
            note=note,
            expected_at=eta,
            now=now,
            by=actor.id,
        )
    assert incident is not None
    members = _open_covered(store, incident)
    link_reports(store, incident, members, now)
    params_out = {
        "incident": incident.id,
        "category": incident.category,
        "area": incident.area,
        "count": len(members),
        "numbers": [t.number for t in members],
        "expected_at": stamp(incident.expected_at),
        "note": incident.note,
    }
    chats = dispatcher_chats(store, besides=actor.id)
    tell(store, f"inc{incident.id}", "dispatcher.incident_opened", chats, params_out, now)
    return store.ticket(incident.master) if incident.master else None


def close_incident(
    store: Host, params: dict[str, Any], actor: Actor, now: datetime
) -> Ticket | None:
    """Close an incident: its open linked tickets are resolved and every reporter linked
    to it is told once that it is fixed (a proposal nobody opened is just dismissed)."""
    found = get_incident(store, int(params.get("id", 0) or 0))
    if found is None:
        raise InvalidInput("incidents.unknown", incident=params.get("id", ""))
    if found.state is IncidentState.CLOSED:
        raise InvalidInput("incidents.not_open", incident=found.code)
    note = str(params.get("note", "")).strip()
    store.db.execute(
        "UPDATE incidents SET state = 'closed', closed_at = ?, closed_by = ?, resolution = ?"
        " WHERE id = ?",
        [iso(now), actor.id, note, found.id],
    )
    if found.state is IncidentState.OPEN:
        # The linked jobs still open are resolved by the closing (their timers stop; each
        # reporter hears it once, from that event, and can still say "not fixed"): only
        # the others - residents linked without a job, jobs already done - get the notice.
        done = resolve_linked(store, found, note, actor, now)
        for report in linked_reports(store, found.id):
            if report.number in done:
                continue
            params_out = {
                "incident": found.id,
                "number": report.number or "",
                "category": found.category,
                "area": found.area,
                "resolution": note,
            }
            chats = [(report.channel, report.chat, report.locale)]
            tell(
                store,
                f"inc{found.id}",
                "reporter.incident_resolved",
                chats,
                params_out,
                now,
                number=report.number,
            )
    return None


def resolve_linked(
    store: Host, incident: Incident, note: str, actor: Actor, now: datetime
) -> set[str]:
    """Resolve every open ticket linked to ``incident`` (and its master) through the
    workflow, with the incident's resolution as theirs; the technicians who held some of
    them are told once each. Returns the numbers resolved."""
    numbers = {r.number for r in linked_reports(store, incident.id) if r.number}
    if incident.master:
        numbers.add(incident.master)
    done: set[str] = set()
    held: dict[str, list[str]] = {}
    for number in sorted(numbers):
        ticket = store.ticket(number)
        if ticket is None or not ticket.is_open:
            continue
        data = {"incident": incident.id}
        store.apply(number, Action.RESOLVE, actor, now, note=note, data=data)
        done.add(number)
        if ticket.holder and ticket.holder != actor.id:
            held.setdefault(ticket.holder, []).append(number)
    for holder, jobs in sorted(held.items()):
        chats = [
            (c.channel, c.chat, c.locale or store.config.locale)
            for c in store.chats_of_person(holder)
        ]
        params = {"incident": incident.id, "numbers": jobs, "resolution": note}
        tell(store, f"inc{incident.id}", "technician.incident_resolved", chats, params, now)
    return done


def join_incident(
    store: Host, params: dict[str, Any], actor: Actor, now: datetime
) -> Ticket | None:
    """A resident's report of a known fault: linked to the incident, no new job."""
    if actor.role is not Role.REPORTER:
        raise NotAllowed("incidents.reporters_only")
    found = get_incident(store, int(params.get("incident", 0) or 0))
    if found is None or found.state is not IncidentState.OPEN:
        raise InvalidInput("incidents.not_open", incident=f"#{params.get('incident', '')}")
    channel, _, chat = actor.id.partition(":")
    store.db.execute(
        "INSERT INTO incident_reports (incident_id, channel, chat, locale, joined_at, number,"
        " spot, description) VALUES (?, ?, ?, ?, ?, NULL, ?, ?) ON CONFLICT DO NOTHING",
        [
            found.id,
            channel,
            chat,
            store._locale_of(channel, chat),
            iso(now),
            str(params.get("spot", ""))[:200],
            str(params.get("description", ""))[:1000],
        ],
    )
    return None


# -- planned outages -------------------------------------------------------------------------


def _check_place(store: Host, area: str, category: str) -> None:
    if store.config.area(area) is None:
        raise InvalidInput("dispatch.unknown_area", area=area)
    if store.config.category(category) is None and store.config.group(category) is None:
        raise InvalidInput("dispatch.unknown_category", category=category)


def add_outage(store: Host, params: dict[str, Any], actor: Actor, now: datetime) -> Ticket | None:
    """Publish a planned outage; residents with an open report it explains are told."""
    area, category = str(params.get("area", "")), str(params.get("category", ""))
    _check_place(store, area, category)
    starts, ends = _moment(params, "start"), _moment(params, "end")
    if starts is None or ends is None or ends <= starts:
        raise InvalidInput("outages.bad_window")
    if ends <= now:
        raise InvalidInput("outages.over")
    reason = str(params.get("reason", "")).strip()[:200]
    row = {
        "state": OutageState.ACTIVE.value,
        "area": area,
        "category": category,
        "starts_at": iso(starts),
        "ends_at": iso(ends),
        "reason": reason,
        "created_at": iso(now),
        "created_by": actor.id,
    }
    outage_id = store._insert("outages", row)
    for ticket in store._tickets(f"area = ? AND state IN ({_OPEN})", [area]):
        if not category_covers(category, ticket.category):
            continue
        out = {
            "outage": outage_id,
            "number": ticket.number,
            "category": category,
            "area": area,
            "starts_at": stamp(starts),
            "ends_at": stamp(ends),
            "reason": reason,
        }
        chats = [reporter_chat(store, ticket)]
        tell(store, f"out{outage_id}", "reporter.outage", chats, out, now, number=ticket.number)
    return None


def cancel_outage(
    store: Host, params: dict[str, Any], actor: Actor, now: datetime
) -> Ticket | None:
    found = get_outage(store, int(params.get("id", 0) or 0))
    if found is None or found.state is not OutageState.ACTIVE:
        raise InvalidInput("outages.unknown", outage=f"#{params.get('id', '')}")
    store.db.execute(
        "UPDATE outages SET state = 'cancelled', cancelled_at = ? WHERE id = ?",
        [iso(now), found.id],
    )
    return None
