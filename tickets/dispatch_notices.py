"""Who is told what about dispatch and time limits, on top of ``tickets.notices``.

``revise(notices, ticket, event, config, before=…)`` takes what ``notices_for`` said an
event causes and returns the final list: reminders to the holder, overdue alerts to the
dispatchers and the team lead, a re-offer of an unclaimed job, the follow-up task after
a bad rating, "closed because you did not answer" after an auto-close (instead of the
plain "closed"), and "nobody on duty" when auto mode found nobody. The kinds are
rendered by ``notify.render_dispatch`` from the ``notices_dispatch`` catalog.

Pure, like ``tickets.notices``: recipients are abstract and params hold everything a
renderer needs (no look-ups at delivery time).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from config.model import Config
from tickets import sla
from tickets.model import Action, Event, Mode, Role, Ticket
from tickets.notices import (
    BROADCAST,
    PERSONAL,
    Dispatchers,
    Notice,
    Person,
    Reporter,
    Team,
    mask_phone,
)

KINDS = frozenset(
    {
        "technician.reminder",
        "technician.priority",
        "dispatcher.overdue",
        "lead.overdue",
        "dispatcher.unclaimed",
        "team.reoffer",
        "dispatcher.unrouted",
        "dispatcher.follow_up",
        "reporter.auto_closed",
    }
)


def follow_up_reason(ticket: Ticket, event: Event, config: Config) -> str | None:
    """``"low_rating"`` or ``"not_fixed"`` when ``event`` calls for a satisfaction call."""
    if event.action is not Action.RATE or event.actor_role is not Role.REPORTER:
        return None
    folded = event.note.casefold()
    if any(word.casefold() in folded for word in config.dispatch.not_fixed_keywords):
        return "not_fixed"
    if ticket.rating is not None and ticket.rating <= config.dispatch.follow_up_rating:
        return "low_rating"
    return None


def revise(
    notices: Sequence[Notice],
    ticket: Ticket,
    event: Event,
    config: Config,
    *,
    before: Ticket | None = None,
) -> list[Notice]:
    out = list(notices)
    # What the dispatch notices show, made only for an event that sends one (most — a
    # new ticket in claim mode, a claim, a sign-in — send none of these).
    job = functools.partial(_job, ticket, event, config)
    route = event.data.get("route") if isinstance(event.data.get("route"), dict) else None
    match event.action:
        case Action.ACCEPT | Action.RELEASE | Action.REOPEN if ticket.mode is Mode.AUTO:
            if route is not None and route.get("technician"):
                # The store assigns it in the same transaction: that event tells people.
                out = [n for n in out if n.kind != "dispatcher.manual"]
            elif route is not None and not any(n.kind == "dispatcher.manual" for n in out):
                out.append(Notice(Dispatchers(), "dispatcher.unrouted", job(), BROADCAST))
        case Action.REMIND if ticket.holder:
            out.append(Notice(Person(ticket.holder), "technician.reminder", job(), PERSONAL))
        case Action.ESCALATE if event.data.get("limit") == "unclaimed":
            shown = job()
            out.append(_reoffer(ticket, shown))
            if "dispatcher" in event.data.get("to", ()):
                out.append(Notice(Dispatchers(), "dispatcher.unclaimed", shown, BROADCAST))
        case Action.ESCALATE:
            shown = job()
            to = event.data.get("to", ())
            first = event.data.get("percent") == 100
            if first and event.data.get("limit") == "claim" and ticket.mode is Mode.CLAIM:
                waited = sla.limits_for(config, ticket.category, ticket.priority).claim
                out.append(_reoffer(ticket, {**shown, "minutes": waited}))
            if "dispatcher" in to:
                out.append(Notice(Dispatchers(), "dispatcher.overdue", shown, BROADCAST))
            lead = config.dispatch.team_leads.get(ticket.team)
            if "lead" in to and lead:
                out.append(Notice(Person(lead), "lead.overdue", shown, PERSONAL))
        case Action.CONFIRM if event.actor_role is Role.SYSTEM and event.data.get("auto"):
            out = [n for n in out if n.kind != "reporter.closed"]
            closed = {**job(), "hours": config.confirm_window_hours}
            out.append(Notice(Reporter(), "reporter.auto_closed", closed, PERSONAL))
        case Action.RATE if (reason := follow_up_reason(ticket, event, config)) is not None:
            task = {**job(), "reason": reason}
            out.append(Notice(Dispatchers(), "dispatcher.follow_up", task, BROADCAST))
        case Action.PRIORITY if ticket.holder and ticket.holder != event.actor_id:
            if before is None or before.priority is not ticket.priority:
                out.append(Notice(Person(ticket.holder), "technician.priority", job(), PERSONAL))
    return out


def _reoffer(ticket: Ticket, job: dict[str, Any]) -> Notice:
    """The job offered to its team again; a group sees it, so the phone is masked."""
    masked = mask_phone(ticket.phone)
    return Notice(
        Team(ticket.team),
        "team.reoffer",
        {**job, "phone": masked, "masked_phone": masked},
        BROADCAST,
    )


def _job(ticket: Ticket, event: Event, config: Config) -> dict[str, Any]:
    """Everything the dispatch notices show (full phone: none of them goes to a group
    except the re-offer, which masks it)."""
    # A new ticket has no holder: no scan of every technician for "".
    holder = config.technician(ticket.holder) if ticket.holder else None
    data = event.data
    return {
        "number": ticket.number,
        "category": ticket.category,
        "state": ticket.state.value,
        "area": ticket.area,
        "building": ticket.building,
        "spot": ticket.spot,
        "team": ticket.team,
        "priority": ticket.priority.value,
        "phone": ticket.phone,
        "description": ticket.description,
        "holder": ticket.holder or "",
        "holder_name": holder.name if holder else ticket.holder or "",
        "note": event.note,
        "limit": str(data.get("limit", "")),
        "percent": data.get("percent"),
        "minutes": data.get("minutes"),
        "due": data.get("due") or _iso(_due_of(ticket, str(data.get("limit", "")))),
        "arrive_due": _iso(ticket.arrive_due),
        "resolve_due": _iso(ticket.resolve_due),
        "rating": ticket.rating,
        "comment": ticket.comment,
        "suggested": list(data.get("suggested", ())),
        "overdue": ticket.overdue,
    }


def _due_of(ticket: Ticket, limit: str) -> datetime | None:
    due: datetime | None = getattr(ticket, f"{limit}_due", None) if limit else None
    return due


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None
