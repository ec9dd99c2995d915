"""What the repeat, duplicate, incident and outage rules do to the store.

``accepted`` runs for every new ticket inside the transaction that created it:
a quality repeat of a ticket closed a short while ago is flagged and told to the
dispatchers; a ticket covered by an open incident is linked to it; K reports of one
category in one area within T minutes propose an incident (or open one); otherwise other
people's reports of the same fault close by are suggested as duplicates.

``COMMANDS`` are the rule commands ``Store.perform_rule`` runs (from a dialogue through
the engine, or from the CLI): a repeat report (hurry, with a complaint once the ticket has
waited too long; or reopen, flagged as a repeat), joining an incident, opening and
closing one, publishing and cancelling a planned outage, and a reporter's "not fixed"
on a closed ticket (a follow-up task for the dispatchers, ``dispatch_store``).

Decisions come from the pure modules (``tickets.repeats``, ``tickets.incidents``,
``tickets.outages``); the ticket workflow is reached only through ``Store.apply``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tickets.dispatch_store import request_follow_up
from tickets.incident_effects import (
    add_outage,
    cancel_outage,
    close_incident,
    covers_ticket,
    insert_incident,
    join_incident,
    link_reports,
    open_incident,
)
from tickets.incident_store import (
    BROADCAST,
    Host,
    dispatcher_chats,
    flag,
    incident_covering,
    mine,
    proposed_incidents,
    recent,
    stamp,
    tell,
)
from tickets.incidents import IncidentState, cluster, expected
from tickets.model import OPEN_STATES, Action, Actor, Event, Ticket
from tickets.repeats import Repeat, duplicates, judge

Command = Callable[[Host, dict[str, Any], Actor, datetime], Ticket | None]
MAX_SUGGESTED = 5
"""Duplicates named in one suggestion: more than a handful is an incident's business."""
_OPEN = ", ".join(repr(s.value) for s in sorted(OPEN_STATES))


def _place(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "category": ticket.category,
        "area": ticket.area,
        "building": ticket.building,
        "spot": ticket.spot,
    }


# -- a new ticket ------------------------------------------------------------------------


def accepted(store: Host, ticket: Ticket, event: Event, now: datetime) -> None:
    verdict = judge(mine(store, ticket), ticket.category, ticket.spot, now, store.config.repeats)
    if isinstance(verdict, Repeat):
        flag(store, ticket.number, "repeat", verdict.previous, now)
        params = {
            **_place(ticket),
            "previous": verdict.previous,
            "resolved_at": stamp(verdict.resolved_at),
            "reopened": False,
            "description": ticket.description,
        }
        tell(
            store,
            f"ev{event.id}",
            "dispatcher.repeat",
            dispatcher_chats(store),
            params,
            now,
            number=ticket.number,
            priority=BROADCAST,
        )
    if _join_open_incident(store, ticket, now) or _detect_incident(store, ticket, now):
        return
    _suggest_duplicates(store, ticket, event, now)


def _join_open_incident(store: Host, ticket: Ticket, now: datetime) -> bool:
    """A report that reached the store while an incident covers it (one not filed through
    the dialogue, which joins it instead) is linked, so its reporter is told too."""
    found = incident_covering(
        store, ticket.area, ticket.category, ticket.latitude, ticket.longitude
    )
    if found is None:
        return False
    link_reports(store, found, [ticket], now)
    return True


def _detect_incident(store: Host, ticket: Ticket, now: datetime) -> bool:
    rules = store.config.incidents
    if not rules.enabled:
        return False
    since = now - timedelta(minutes=rules.window_minutes)
    for known in proposed_incidents(store):
        if known.created_at >= since and covers_ticket(store, known, ticket):
            return True  # already before the dispatchers: do not ask again for each report
    nearby = recent(store, ticket, rules.window_minutes, by="area", radius_m=rules.radius_m)
    group = cluster(ticket, nearby, now, rules)
    if not group:
        return False
    state = IncidentState.OPEN if rules.auto_open else IncidentState.PROPOSED
    incident = insert_incident(
        store,
        state=state,
        category=ticket.category,
        area=ticket.area,
        latitude=None if ticket.area else ticket.latitude,
        longitude=None if ticket.area else ticket.longitude,
        master=group[0].number,
        now=now,
        by="system",
        expected_at=expected(rules, now) if rules.auto_open else None,
    )
    params = {
        "incident": incident.id,
        "category": incident.category,
        "area": incident.area,
        "count": len(group),
        "numbers": [t.number for t in group],
        "window_minutes": rules.window_minutes,
        "master": incident.master,
        "expected_at": stamp(incident.expected_at),
    }
    if state is IncidentState.OPEN:
        link_reports(store, incident, group, now)
        kind = "dispatcher.incident_opened"
    else:
        kind = "dispatcher.incident_proposed"
    tell(store, f"inc{incident.id}", kind, dispatcher_chats(store), params, now, priority=BROADCAST)
    return True


def _suggest_duplicates(store: Host, ticket: Ticket, event: Event, now: datetime) -> None:
    rules = store.config.repeats
    nearby = recent(
        store, ticket, rules.duplicate_minutes, by="building", radius_m=rules.duplicate_radius_m
    )
    found = duplicates(ticket, nearby, rules)[:MAX_SUGGESTED]
    if not found:
        return
    for other in found:
        flag(store, ticket.number, "duplicate_of", other.number, now)
    params = {
        **_place(ticket),
        "candidates": [t.number for t in found],
        "master": found[0].number,
        "description": ticket.description,
    }
    tell(
        store,
        f"ev{event.id}",
        "dispatcher.duplicates",
        dispatcher_chats(store),
        params,
        now,
        number=ticket.number,
        priority=BROADCAST,
    )


# -- repeat reports ------------------------------------------------------------------------


def hurry(store: Host, params: dict[str, Any], actor: Actor, now: datetime) -> Ticket | None:
    """A report of a fault whose ticket is still open: that ticket is hurried (its holder
    is told); open longer than ``hurry_hours``, the dispatchers also get a complaint."""
    before = store.get(str(params.get("number", "")))
    waited = now - before.created_at
    complaint = waited > timedelta(hours=store.config.repeats.hurry_hours)
    data = {"repeat_report": True, "complaint": complaint}
    after = store.apply(before.number, Action.HURRY, actor, now, data=data)
    if complaint:
        flag(store, after.number, "complaint", f"hurry{after.hurry_count}", now)
        out = {
            **_place(after),
            "open_hours": int(waited.total_seconds() // 3600),
            "hurry_count": after.hurry_count,
            "created_at": stamp(after.created_at),
            "holder": after.holder or "",
        }
        tell(
            store,
            f"{after.number}:hurry{after.hurry_count}",
            "dispatcher.complaint",
            dispatcher_chats(store),
            out,
            now,
            number=after.number,
            priority=BROADCAST,
        )
    return after


def reopen(store: Host, params: dict[str, Any], actor: Actor, now: datetime) -> Ticket | None:
    """The same fault reported again soon after it was fixed: the ticket is reopened,
    flagged as a repeat (quality), and the dispatchers are told."""
    before = store.get(str(params.get("number", "")))
    note = str(params.get("note", "")).strip()[:1000]
    data = {"repeat": "quality", "resolved_at": stamp(before.resolved_at)}
    after = store.apply(before.number, Action.REOPEN, actor, now, note=note, data=data)
    flag(store, after.number, "repeat", f"reopen{after.reopen_count}", now)
    out = {
        **_place(after),
        "previous": after.number,
        "resolved_at": stamp(before.resolved_at),
        "reopened": True,
        "description": note,
    }
    tell(
        store,
        f"{after.number}:reopen{after.reopen_count}",
        "dispatcher.repeat",
        dispatcher_chats(store),
        out,
        now,
        number=after.number,
        priority=BROADCAST,
    )
    return after


COMMANDS: dict[str, Command] = {
    "repeat.hurry": hurry,
    "repeat.reopen": reopen,
    "incident.join": join_incident,
    "incident.open": open_incident,
    "incident.close": close_incident,
    "outage.add": add_outage,
    "outage.cancel": cancel_outage,
    "followup.request": request_follow_up,
}
