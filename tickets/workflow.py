"""The ticket life: which action may be done by whom from which state.

``advance(ticket, action, actor, now, …)`` is pure: it returns the new ticket and the
event describing the change, or raises ``InvalidTransition`` / ``NotAllowed`` /
``InvalidInput`` and changes nothing. The store calls it inside the transaction that
writes the result, so every rule lives here and only here. The state diagram is in
``tickets/STATES.md`` (a test keeps it in step with ``State``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from tickets.errors import InvalidInput, InvalidTransition, NotAllowed
from tickets.model import OPEN_STATES, Action, Actor, Event, Priority, Role, State, Ticket

MAX_PHOTOS = 4
"""Photos per report and per completion, as after-sales photo rules ask (≤ 4)."""

_R, _T, _D, _S = Role.REPORTER, Role.TECHNICIAN, Role.DISPATCHER, Role.SYSTEM

# action → (roles that may do it, states it may start from)
RULES: dict[Action, tuple[frozenset[Role], frozenset[State]]] = {
    Action.CLAIM: (frozenset({_T}), frozenset({State.NEW})),
    Action.ASSIGN: (frozenset({_D, _S}), frozenset({State.NEW})),
    Action.TRANSFER: (
        frozenset({_D, _S}),
        frozenset({State.ASSIGNED, State.ON_SITE, State.PAUSED}),
    ),
    Action.SIGN_IN: (frozenset({_T}), frozenset({State.ASSIGNED})),
    Action.PAUSE: (frozenset({_T}), frozenset({State.ASSIGNED, State.ON_SITE})),
    Action.RESUME: (frozenset({_T}), frozenset({State.PAUSED})),
    Action.RESOLVE: (frozenset({_T}), frozenset({State.ON_SITE})),
    Action.CONFIRM: (frozenset({_R, _S}), frozenset({State.RESOLVED})),
    Action.RATE: (frozenset({_R}), frozenset({State.RESOLVED, State.CLOSED})),
    Action.REOPEN: (frozenset({_R, _D}), frozenset({State.RESOLVED})),
    Action.CANCEL: (frozenset({_R, _D}), frozenset({State.NEW, State.ASSIGNED})),
    Action.RELEASE: (
        frozenset({_T}),
        frozenset({State.ASSIGNED, State.ON_SITE, State.PAUSED}),
    ),
    Action.HURRY: (frozenset({_R, _S}), frozenset(OPEN_STATES)),
    Action.ADD_INFO: (frozenset({_R}), frozenset(OPEN_STATES)),
    Action.MERGE: (frozenset({_D, _S}), frozenset({State.NEW})),
    Action.PRIORITY: (frozenset({_D, _S}), frozenset(OPEN_STATES)),
    Action.REMIND: (frozenset({_S}), frozenset(OPEN_STATES)),
    Action.ESCALATE: (frozenset({_S}), frozenset(OPEN_STATES)),
    Action.FOLLOW_UP: (frozenset({_D}), frozenset({State.CLOSED})),
    # The holder, or a dispatcher on his word (he phoned in), confirms receipt.
    Action.ACKNOWLEDGE: (frozenset({_T, _D}), frozenset({State.ASSIGNED})),
}

HOLDER_ONLY = frozenset(
    {Action.SIGN_IN, Action.PAUSE, Action.RESUME, Action.RESOLVE, Action.RELEASE}
)
OWNER_ONLY = frozenset(
    {Action.CONFIRM, Action.RATE, Action.REOPEN, Action.CANCEL, Action.HURRY, Action.ADD_INFO}
)

INCIDENT_ROLES = frozenset({_D, _S})
"""Who resolves a ticket, from any open state, because the large-area incident it is
linked to was closed (``data["incident"]``): the repair was done once, for everyone."""


def allowed_actions(ticket: Ticket, actor: Actor) -> list[Action]:
    """Actions ``actor`` could try on ``ticket`` now (for buttons and console menus)."""
    found = []
    for action in RULES:
        try:
            _check(ticket, action, actor, note="x", data={"rating": 5}, target="x")
        except (InvalidTransition, NotAllowed, InvalidInput):
            continue
        found.append(action)
    return found


def advance(
    ticket: Ticket,
    action: Action,
    actor: Actor,
    now: datetime,
    *,
    note: str = "",
    data: dict[str, Any] | None = None,
    target: str | None = None,
) -> tuple[Ticket, Event]:
    data = dict(data or {})
    note = note.strip()
    _check(ticket, action, actor, note=note, data=data, target=target)
    new = _apply(ticket, action, actor, now, note=note, data=data, target=target)
    new = replace(new, updated_at=now, version=ticket.version + 1)
    if target is not None:
        data.setdefault("target", target)
    event = Event(
        number=ticket.number,
        at=now,
        actor_role=actor.role,
        actor_id=actor.id,
        action=action,
        from_state=ticket.state,
        to_state=new.state,
        note=note,
        data=data,
    )
    return new, event


def _check(
    ticket: Ticket,
    action: Action,
    actor: Actor,
    *,
    note: str,
    data: dict[str, Any],
    target: str | None,
) -> None:
    if action not in RULES:
        raise InvalidTransition(
            "errors.invalid_transition", action=action.value, state=ticket.state.value
        )
    if by_incident(action, actor, data):
        if ticket.state not in OPEN_STATES:
            raise InvalidTransition(
                "errors.invalid_transition", action=action.value, state=ticket.state.value
            )
        return
    roles, states = RULES[action]
    if actor.role not in roles:
        raise NotAllowed("errors.role", action=action.value)
    if action in OWNER_ONLY and actor.role is Role.REPORTER and actor.id != ticket.reporter:
        raise NotAllowed("errors.not_owner", number=ticket.number)
    if action in HOLDER_ONLY and ticket.holder != actor.id and ticket.state in OPEN_STATES:
        raise NotAllowed("errors.not_holder", number=ticket.number)
    if action is Action.CLAIM:
        if ticket.state is not State.NEW and ticket.holder:
            raise InvalidTransition("errors.already_taken", number=ticket.number)
        if ticket.team not in actor.teams:
            raise NotAllowed("errors.not_in_team", number=ticket.number)
    if action is Action.ACKNOWLEDGE and actor.role is _T and ticket.holder != actor.id:
        raise NotAllowed("errors.not_holder", number=ticket.number)
    if action is Action.ACKNOWLEDGE and ticket.acknowledged_at is not None:
        raise InvalidTransition("receipt.already", number=ticket.number)
    if action is Action.RESOLVE and ticket.state is State.ASSIGNED:
        raise InvalidTransition("errors.sign_in_first", number=ticket.number)
    if action is Action.RATE and ticket.rating is not None:
        raise InvalidTransition("errors.already_rated", number=ticket.number)
    if ticket.state not in states:
        raise InvalidTransition(
            "errors.invalid_transition", action=action.value, state=ticket.state.value
        )
    if action in (Action.PAUSE, Action.RELEASE) and not note:
        raise InvalidInput("errors.reason_required", action=action.value)
    if action is Action.REOPEN and actor.role is Role.DISPATCHER and not note:
        raise InvalidInput("errors.reason_required", action=action.value)
    if action in (Action.ASSIGN, Action.TRANSFER, Action.MERGE) and not target:
        raise InvalidInput("errors.target_required", action=action.value)
    if action is Action.TRANSFER and target == ticket.holder:
        raise InvalidInput("errors.same_holder", number=ticket.number)
    if action is Action.MERGE and target == ticket.number:
        raise InvalidInput("errors.same_ticket", number=ticket.number)
    if action is Action.RATE:
        rating = data.get("rating")
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise InvalidInput("errors.rating_range")
    if action is Action.PRIORITY and data.get("priority") not in {p.value for p in Priority}:
        raise InvalidInput("errors.priority_unknown", given=str(data.get("priority", "")))
    if action is Action.FOLLOW_UP and not note:
        raise InvalidInput("errors.reason_required", action=action.value)
    if action is Action.ADD_INFO and not note and not data.get("photos"):
        raise InvalidInput("errors.info_empty")
    photos = data.get("photos", [])
    if not isinstance(photos, list | tuple) or not all(isinstance(p, str) for p in photos):
        raise InvalidInput("errors.invalid_photos")
    existing = len(ticket.photos) if action is Action.ADD_INFO else 0
    if existing + len(photos) > MAX_PHOTOS:
        raise InvalidInput("errors.too_many_photos", limit=MAX_PHOTOS)


def by_incident(action: Action, actor: Actor, data: dict[str, Any]) -> bool:
    """A resolution by the closing of an incident (see ``INCIDENT_ROLES``)."""
    return action is Action.RESOLVE and actor.role in INCIDENT_ROLES and bool(data.get("incident"))


def _apply(
    t: Ticket,
    action: Action,
    actor: Actor,
    now: datetime,
    *,
    note: str,
    data: dict[str, Any],
    target: str | None,
) -> Ticket:
    match action:
        case Action.CLAIM:
            return replace(t, state=State.ASSIGNED, holder=actor.id, acknowledged_at=now)
        case Action.ASSIGN | Action.TRANSFER:
            # Someone else chose the holder: he has to acknowledge it (tickets.receipt).
            return replace(
                t,
                state=State.ASSIGNED,
                holder=target,
                paused_from=None,
                pause_reason="",
                acknowledged_at=None,
            )
        case Action.ACKNOWLEDGE:
            return replace(t, acknowledged_at=now)
        case Action.SIGN_IN:
            distance = data.get("distance_m")
            return replace(
                t,
                state=State.ON_SITE,
                signed_in_at=now,
                acknowledged_at=t.acknowledged_at or now,  # on site: received, plainly
                distance_m=float(distance) if isinstance(distance, int | float) else None,
            )
        case Action.PAUSE:
            return replace(t, state=State.PAUSED, paused_from=t.state, pause_reason=note)
        case Action.RESUME:
            return replace(
                t, state=t.paused_from or State.ASSIGNED, paused_from=None, pause_reason=""
            )
        case Action.RESOLVE:
            return replace(
                t,
                state=State.RESOLVED,
                resolved_at=now,
                resolution=note,
                resolution_photos=tuple(data.get("photos", ())),
                # Only an incident's closing resolves a paused job: its pause is over.
                paused_from=None,
                pause_reason="",
            )
        case Action.CONFIRM:
            return replace(t, state=State.CLOSED, closed_at=now)
        case Action.RATE:
            return replace(
                t,
                state=State.CLOSED,
                closed_at=t.closed_at or now,
                rating=int(data["rating"]),
                comment=note,
            )
        case Action.REOPEN:
            return replace(
                t,
                state=State.NEW,
                holder=None,
                resolved_at=None,
                signed_in_at=None,
                resolution="",
                resolution_photos=(),
                distance_m=None,
                reopen_count=t.reopen_count + 1,
                acknowledged_at=None,
            )
        case Action.CANCEL:
            return replace(t, state=State.CANCELLED, closed_at=now)
        case Action.RELEASE:
            return replace(
                t,
                state=State.NEW,
                holder=None,
                paused_from=None,
                pause_reason="",
                signed_in_at=None,
                acknowledged_at=None,
            )
        case Action.HURRY:
            return replace(t, hurry_count=t.hurry_count + 1)
        case Action.ADD_INFO:
            description = f"{t.description}\n{note}" if note else t.description
            return replace(t, description=description, photos=(*t.photos, *data.get("photos", ())))
        case Action.MERGE:
            return replace(t, state=State.DUPLICATE, master=target, closed_at=now)
        case Action.PRIORITY:
            return replace(t, priority=Priority(data["priority"]))
        case Action.REMIND | Action.ESCALATE | Action.FOLLOW_UP:
            return t  # recorded in the timeline; the state does not change
    raise InvalidTransition("errors.invalid_transition", action=action.value, state=t.state.value)


def replay(accepted: Ticket, events: list[Event]) -> Ticket:
    """Re-run a timeline from the accepted ticket; the result must equal the stored
    ticket. Claims were checked against the claimer's teams when they happened, so the
    replayed actor is taken to be in the ticket's team."""
    ticket = accepted
    for event in events:
        if event.action is Action.ACCEPT:
            continue
        actor = Actor(event.actor_role, event.actor_id, teams=frozenset({ticket.team}))
        data = {k: v for k, v in event.data.items() if k != "target"}
        ticket, _ = advance(
            ticket,
            event.action,
            actor,
            event.at,
            note=event.note,
            data=data,
            target=event.data.get("target"),
        )
    return ticket
