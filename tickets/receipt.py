"""Receipt of an assigned job (接单确认), the store side: when a technician let the time
to acknowledge a job pass (the ``receipt`` escalation of ``tickets.timers``), the job is
handed to the next candidate — the best-ranked member of its team (``tickets.routing``)
who has not already let it pass in this cycle — by a system transfer; with nobody left it
stays where it is for the dispatchers, whom the escalation itself alerts
(``dispatcher.overdue`` with limit ``receipt``).

``missed`` runs inside the transaction of the escalation's event (``tickets.dispatch_store``
calls it after writing it), so the alert, the transfer, its notices and the new holder's
timers are written together or not at all. Nothing here sends anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tickets import sla, timers
from tickets.errors import BaoxiuError
from tickets.model import Action, Actor, Event, State, Ticket

if TYPE_CHECKING:
    from tickets.store import Store

MISSED = "missed"
"""``data["receipt"]`` of the transfer that takes a job from a technician who did not
acknowledge it."""


def is_missed(event: Event) -> bool:
    """Whether ``event`` is the deadline to acknowledge passing."""
    return (
        event.action is Action.ESCALATE
        and event.data.get("limit") == timers.RECEIPT
        and event.data.get("percent") == 100
    )


def passed_over(store: Store, ticket: Ticket, events: list[Event]) -> set[str]:
    """Technicians who let this job's time to acknowledge pass since it was (re)opened,
    the holder now included."""
    start = sla.clock(ticket, store.config, events).start
    gone = {
        str(e.data.get("from"))
        for e in events
        if e.action is Action.TRANSFER and e.data.get("receipt") == MISSED and e.at >= start
    }
    return gone | ({ticket.holder} if ticket.holder else set())


def missed(store: Store, ticket: Ticket, event: Event) -> Ticket:
    """Hand ``ticket`` to the next candidate after its holder let the time pass."""
    if ticket.state is not State.ASSIGNED or ticket.acknowledged_at is not None:
        return ticket
    from tickets.dispatch_store import decide  # it calls this module

    history = store.timeline(ticket.number)
    gone = passed_over(store, ticket, history)
    decision = decide(store, ticket, event.at, exclude=gone)
    if not decision.candidates:
        return ticket  # nobody else: the dispatchers, alerted, decide
    try:
        return store.apply(
            ticket.number,
            Action.TRANSFER,
            Actor.system(),
            event.at,
            target=decision.candidates[0],
            data={"receipt": MISSED},
        )
    except BaoxiuError:
        return ticket  # refused (its own savepoint undone): the alert still stands
