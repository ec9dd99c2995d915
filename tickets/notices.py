"""Who is told what after a ticket changes: ``notices_for(ticket, event, config)``.

Pure: it names recipients abstractly (the reporter, a person, a team, the dispatchers)
and fills each notice's ``params`` with everything a renderer needs, so a notice reads
the same whenever it is delivered. The store turns recipients into chats and writes the
outbox rows in the transaction of the change. Nothing here sends anything, reads the
database or formats text for people.

Rules: the actor is not told about his own action (his dialogue reply does that). So a
reporter who files in his own dialogue gets no ``reporter.accepted``: the intake reply
(number, category, expected arrival) is his acceptance, and a second message would be the
same news twice. Someone else creating a ticket on his behalf (a dispatcher, the system, a
phone or Open311 source) does queue it, since nothing else tells him. Likewise a
technician who claims gets no ``technician.assigned``: the claim's reply is his job card
(on Telegram a claim pressed in the team group answers him in his private chat).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from config.model import Config
from tickets.model import Action, Event, Mode, Role, Ticket

PERSONAL = 1
"""Priority of a notice to one person (outbox priority 0 is a dialogue reply)."""
BROADCAST = 2
"""Priority of a notice to a team or to every dispatcher."""


@dataclass(frozen=True)
class Reporter:
    """The ticket's reporter, in the chat the report came from."""


@dataclass(frozen=True)
class Person:
    """A configured technician or dispatcher, in every chat bound to them."""

    id: str


@dataclass(frozen=True)
class Team:
    """A team: its group chats (``Team.groups``) and its members' bound chats."""

    code: str


@dataclass(frozen=True)
class Dispatchers:
    """Every chat bound to a configured dispatcher."""


@dataclass(frozen=True)
class Follower:
    """The reporter of ticket ``number``, a duplicate merged into the ticket that changed:
    from the merge on, they hear what the master's reporter hears."""

    number: str


Recipient = Reporter | Person | Team | Dispatchers | Follower


@dataclass(frozen=True)
class Notice:
    recipient: Recipient
    kind: str  # catalog key under notices.*, e.g. "reporter.assigned"
    params: dict[str, Any]
    priority: int


def notices_for(
    ticket: Ticket, event: Event, config: Config, *, before: Ticket | None = None
) -> list[Notice]:
    """The notices ``event`` causes; ``ticket`` is the ticket after it, ``before`` the
    ticket before it (needed to reach a holder the event took away)."""
    base = _base(ticket, event)
    by_reporter = event.actor_role is Role.REPORTER and event.actor_id == ticket.reporter
    prior = before.holder if before is not None else ticket.holder
    out: list[Notice] = []

    def tell_reporter(kind: str, **params: Any) -> None:
        if not by_reporter:
            out.append(Notice(Reporter(), kind, {**base, **params}, PERSONAL))

    def tell_person(person: str | None, kind: str, **params: Any) -> None:
        if person and person != event.actor_id:
            out.append(Notice(Person(person), kind, {**base, **params}, PERSONAL))

    match event.action:
        case Action.ACCEPT:
            tell_reporter("reporter.accepted", eta=_iso(ticket.arrive_due))
            out.extend(_offer(ticket, base, config, reason="accepted"))
        case Action.CLAIM | Action.ASSIGN | Action.TRANSFER:
            technician = config.technician(ticket.holder or "")
            tell_reporter(
                "reporter.assigned",
                technician_name=technician.name if technician else ticket.holder or "",
                technician_phone=technician.phone if technician else "",
            )
            tell_person(ticket.holder, "technician.assigned", **_job(ticket), by=event.action.value)
            if prior != ticket.holder:
                tell_person(prior, "technician.released")
        case Action.SIGN_IN:
            tell_reporter("reporter.on_site", technician_name=_name(config, ticket.holder))
        case Action.PAUSE:
            tell_reporter("reporter.paused", reason=ticket.pause_reason)
        case Action.RESUME:
            tell_reporter("reporter.resumed", technician_name=_name(config, ticket.holder))
        case Action.RESOLVE:
            tell_reporter(
                "reporter.resolved",
                resolution=ticket.resolution,
                resolution_photos=list(ticket.resolution_photos),
                technician_name=_name(config, ticket.holder),
                # Resolved by the closing of a large-area incident (tickets.incident_effects).
                incident=event.data.get("incident"),
            )
        case Action.CONFIRM | Action.RATE:
            tell_reporter("reporter.closed", rating=ticket.rating, comment=ticket.comment)
            # The technician who did the work hears how it ended (issue 12 item 9).
            if event.action is Action.RATE:
                tell_person(prior, "technician.rated", rating=ticket.rating, comment=ticket.comment)
            else:
                tell_person(prior, "technician.confirmed", auto=event.actor_role is Role.SYSTEM)
        case Action.REOPEN:
            tell_reporter("reporter.reopened")
            tell_person(prior, "technician.reopened")
            out.extend(_offer(ticket, base, config, reason="reopened"))
        case Action.CANCEL:
            tell_reporter("reporter.cancelled")
            tell_person(prior, "technician.cancelled")
        case Action.RELEASE:
            tell_reporter("reporter.released")
            out.extend(_offer(ticket, base, config, reason="released"))
        case Action.HURRY:
            if ticket.holder:
                tell_person(ticket.holder, "technician.hurried", hurry_count=ticket.hurry_count)
            else:
                # Nobody holds it: the people who can make someone hold it are told.
                out.append(
                    Notice(
                        Dispatchers(),
                        "dispatcher.manual",
                        {**base, **_job(ticket), "reason": "hurried"},
                        BROADCAST,
                    )
                )
        case Action.ADD_INFO:
            tell_person(
                ticket.holder,
                "technician.info_added",
                photos=list(event.data.get("photos", ())),
            )
        case Action.MERGE:
            tell_reporter("reporter.merged", master=ticket.master or "")
    return out


def follower_notices(
    ticket: Ticket,
    event: Event,
    config: Config,
    followers: Sequence[str],
    *,
    before: Ticket | None = None,
) -> list[Notice]:
    """What ``ticket``'s reporter is told about ``event``, told also to the reporters of
    the duplicates merged into it (kind ``follower.<kind>``, with ``own`` = their ticket).
    They are told even when the master's reporter acted himself, since they did not."""
    if not followers:
        return []
    as_system = replace(event, actor_role=Role.SYSTEM, actor_id="system")
    told = [
        n
        for n in notices_for(ticket, as_system, config, before=before)
        if n.recipient == Reporter()
    ]
    return [
        Notice(Follower(number), f"follower.{n.kind}", {**n.params, "own": number}, n.priority)
        for number in followers
        for n in told
    ]


def _offer(ticket: Ticket, base: dict[str, Any], config: Config, *, reason: str) -> list[Notice]:
    """A ticket waiting for a technician: offered to its team (claim mode) or put before
    the dispatchers (manual mode, or auto mode when no rule assigns it)."""
    job = {**base, **_job(ticket), "reason": reason}
    if ticket.mode is Mode.CLAIM:
        masked = mask_phone(ticket.phone)
        # A group sees the offer: the reporter's full number never enters its row.
        params = {**job, "phone": masked, "masked_phone": masked}
        return [Notice(Team(ticket.team), "team.offer", params, BROADCAST)]
    if ticket.mode is Mode.AUTO and reason == "accepted" and auto_candidates(ticket, config):
        return []  # the store assigns it in the same transaction; that event tells people
    return [Notice(Dispatchers(), "dispatcher.manual", job, BROADCAST)]


def auto_candidates(ticket: Ticket, config: Config) -> list[str]:
    """Technicians an auto-mode ticket may go to: configured members of its team who
    serve its area (a technician with no areas serves every area); when none serves the
    area, every configured member, since an answer from afar beats none."""
    team = config.team(ticket.team)
    if team is None:
        return []
    members = [t for t in (config.technician(m) for m in team.members) if t is not None]
    local = [t for t in members if not t.areas or ticket.area in t.areas]
    return sorted(t.id for t in (local or members))


def _base(ticket: Ticket, event: Event) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "category": ticket.category,
        "state": ticket.state.value,
        "area": ticket.area,
        "building": ticket.building,
        "spot": ticket.spot,
        "note": event.note,
    }


def _job(ticket: Ticket) -> dict[str, Any]:
    """Everything the holder (or a dispatcher) needs to do the job."""
    return {
        "team": ticket.team,
        "priority": ticket.priority.value,
        "phone": ticket.phone,
        "description": ticket.description,
        "latitude": ticket.latitude,
        "longitude": ticket.longitude,
        "photos": list(ticket.photos),
        "preferred_time": ticket.preferred_time,
        "claim_due": _iso(ticket.claim_due),
        "arrive_due": _iso(ticket.arrive_due),
        "resolve_due": _iso(ticket.resolve_due),
        "hurry_count": ticket.hurry_count,
        "reopen_count": ticket.reopen_count,
    }


def _name(config: Config, person: str | None) -> str:
    technician = config.technician(person or "")
    return technician.name if technician else person or ""


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def mask_phone(phone: str) -> str:
    """138****0000, as ``conversation.i18n.mask_phone`` shows it (the domain does not
    import the conversation layer)."""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"
