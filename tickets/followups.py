"""Follow-up calls (回访) besides bad ratings: a share of closed tickets sampled for a
satisfaction call, the open calls with what the caller needs, and the outcome recorded.

- ``sampled(number, percent)`` is pure and deterministic (a hash of the ticket number),
  so the same ticket is always in or out of the sample: a test, a re-run of a closing
  and a second process agree. ``to_sample`` says whether a closing event samples its
  ticket (``[followup] sample_percent``); ``tickets.dispatch_store.after_write`` opens
  the task in the transaction of that event.
- ``open_calls`` lists the open tasks (every reason) with their tickets, oldest first.
- ``record`` writes a call's outcome as the ticket's ``follow_up`` event (the staff
  member as actor, the outcome in its data): a call that did not reach the reporter keeps
  the task open, any other outcome closes it.

No chat, no HTTP; time comes in as an argument.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from config.model import Config
from tickets.errors import InvalidInput
from tickets.model import Action, Actor, Event, State, Ticket
from tickets.rows import ticket_from_row, when

if TYPE_CHECKING:
    from tickets.store import Store

SAMPLED = "sampled"
OUTCOMES = ("reached", "not_reached", "satisfied", "not_satisfied")
STILL_OPEN = "not_reached"
"""The outcome after which the task stays open: the call is to be tried again."""


def sampled(number: str, percent: int) -> bool:
    """Whether ticket ``number`` falls in a ``percent`` % sample (same answer every time)."""
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(number.encode()).digest()[:4], "big") % 100
    return bucket < percent


def to_sample(before: Ticket, after: Ticket, event: Event, config: Config) -> bool:
    """Whether ``event`` closes ``after`` (confirmed, rated or closed by the window) and
    its ticket is in the configured sample."""
    closing = event.action in (Action.CONFIRM, Action.RATE) and before.state is State.RESOLVED
    return (
        closing
        and after.state is State.CLOSED
        and sampled(after.number, config.flow.sample_percent)
    )


@dataclass(frozen=True)
class Call:
    """One open follow-up task and its ticket."""

    id: int
    reason: str  # sampled | low_rating | not_fixed | not_fixed_after_close
    opened_at: datetime
    ticket: Ticket
    attempts: int  # calls that did not reach the reporter so far


def open_calls(store: Store, *, limit: int = 200) -> list[Call]:
    """The open follow-up tasks, oldest first (follow_ups_status serves the order)."""
    rows = store.query(
        "SELECT f.id AS fu_id, f.reason AS fu_reason, f.opened_at AS fu_opened, t.*,"
        " (SELECT COUNT(*) FROM events e WHERE e.number = f.number"
        "  AND e.action = 'follow_up' AND e.id > f.event_id"
        "  AND json_extract(e.data, '$.outcome') = ?) AS fu_attempts"
        " FROM follow_ups f JOIN tickets t ON t.number = f.number"
        " WHERE f.status = 'open' ORDER BY f.opened_at, f.id LIMIT ?",
        [STILL_OPEN, limit],
    )
    out = []
    for row in rows:
        opened = when(row.pop("fu_opened"))
        assert opened is not None
        call_id, reason, attempts = row.pop("fu_id"), row.pop("fu_reason"), row.pop("fu_attempts")
        out.append(Call(int(call_id), reason, opened, ticket_from_row(row), int(attempts)))
    return out


def record(
    store: Store, number: str, outcome: str, note: str, actor: Actor, now: datetime
) -> Ticket:
    """Record a follow-up call's ``outcome`` (one of ``OUTCOMES``) with the caller's
    ``note`` (required: what the reporter said, or why nobody answered) as one
    ``follow_up`` event. Raises ``InvalidInput`` (unknown outcome, empty note, no open
    task for the ticket) and changes nothing."""
    if outcome not in OUTCOMES:
        raise InvalidInput("followup_calls.bad_outcome", outcome=outcome[:40])
    note = note.strip()[:1000]
    if not note:
        raise InvalidInput("followup_calls.note_required")
    with store.transaction():
        [row] = store.query(
            "SELECT COUNT(*) AS n FROM follow_ups WHERE number = ? AND status = 'open'", [number]
        )
        if not row["n"]:
            raise InvalidInput("followup_calls.none_open", number=number)
        return store.apply(
            number, Action.FOLLOW_UP, actor, now, note=note, data={"outcome": outcome}
        )
