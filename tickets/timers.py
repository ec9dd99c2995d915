"""Which reminders, escalations, re-offers and auto-closes a ticket has coming, and
which of them are due: ``plan(ticket, config, events)`` and ``due(planned, fired, now)``.

- A running limit (claim while new; arrive and resolve while assigned; resolve on site)
  reminds the holder at each ``[dispatch] reminders`` percent, and at 100 % makes the
  ticket overdue and tells the first escalation step(s); later steps (the team lead at
  150 %, say) follow at their own percent. A paused ticket has no running limit.
- A claim-mode ticket nobody claimed within ``unclaimed_minutes`` (when that is less than
  its claim limit) is offered again and the dispatchers are told; at the claim limit the
  escalation does both.
- A resolved ticket the reporter has not confirmed within ``confirm_window_hours`` is
  closed by the system.
- A job assigned or transferred to a technician (not claimed by him) that he has not
  acknowledged (接单确认, ``[receipt]``) reminds him at ``remind_percent`` of its claim
  limit, counted from the assignment; at 100 % the escalation of limit ``receipt`` hands
  it to the next candidate and tells the dispatchers (``tickets.receipt``).

Each timer has a key — (cycle, kind, limit, threshold) — that the store keeps with a
unique constraint once fired, so a restart never repeats one. The cycle is the reopen
count (and, for the claim clock, the releases since), so a reopened or released ticket
runs its clocks again. Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from config.model import Config
from tickets import sla
from tickets.model import Action, Event, Mode, State, Ticket

RECEIPT = "receipt"
"""The limit name of the time to acknowledge an assigned job."""

RUNNING: dict[State, tuple[str, ...]] = {
    State.NEW: ("claim",),
    State.ASSIGNED: ("arrive", "resolve"),
    State.ON_SITE: ("resolve",),
}
"""The limits whose clock runs in each state."""

REMIND, ESCALATE, UNCLAIMED, AUTO_CLOSE = "remind", "escalate", "unclaimed", "auto_close"

TimerKey = tuple[str, str, str, int]


@dataclass(frozen=True)
class Timer:
    at: datetime
    kind: str  # remind | escalate | unclaimed | auto_close
    limit: str  # claim | arrive | resolve | confirm
    threshold: int  # percent (remind, escalate), minutes (unclaimed), hours (auto_close)
    cycle: str
    to: tuple[str, ...] = ()  # escalate: "dispatcher", "lead"
    deadline: datetime | None = None  # when the limit is (was) used up

    @property
    def key(self) -> TimerKey:
        return (self.cycle, self.kind, self.limit, self.threshold)


@dataclass(frozen=True)
class Due:
    fire: tuple[Timer, ...]
    skip: tuple[Timer, ...]  # reminders a later stage of the same clock made pointless


def plan(ticket: Ticket, config: Config, events: Sequence[Event] = ()) -> list[Timer]:
    """Every timer of ``ticket`` as it stands (fired ones included; the store keeps
    which of them fired)."""
    out: list[Timer] = []
    dispatch = config.dispatch
    if ticket.state in RUNNING:
        c = sla.clock(ticket, config, events)
        releases = sum(1 for e in events if e.action is Action.RELEASE and e.at >= c.start)
        steps = [
            s for s in dispatch.escalation(ticket.category) if _reachable(s.to, ticket, config)
        ]
        for limit in RUNNING[ticket.state]:
            cycle = (
                f"{ticket.reopen_count}.{releases}"
                if limit == "claim"
                else str(ticket.reopen_count)
            )
            deadline = sla.moment(c, limit, 100, config)
            if deadline is None:
                continue
            if ticket.holder:
                for percent in dispatch.reminders:
                    at = sla.moment(c, limit, percent, config)
                    if at is not None:
                        out.append(Timer(at, REMIND, limit, percent, cycle, (), deadline))
            percents = sorted({100} | {s.at for s in steps})
            for percent in percents:
                to = tuple(s.to for s in steps if s.at == percent)
                at = sla.moment(c, limit, percent, config)
                if at is not None and (to or percent == 100):
                    out.append(Timer(at, ESCALATE, limit, percent, cycle, to, deadline))
        minutes = dispatch.unclaimed_minutes
        # From the claim deadline on, the escalation re-offers it and alerts instead.
        if ticket.state is State.NEW and ticket.mode is Mode.CLAIM and minutes < c.limits.claim:
            cycle = f"{ticket.reopen_count}.{releases}"
            at = sla.add(c.claim_start, minutes, config, business=c.business)
            if at is not None:
                to = ("dispatcher",) if config.dispatchers else ()
                out.append(Timer(at, UNCLAIMED, "claim", minutes, cycle, to))
        out.extend(receipt_timers(ticket, config, events))
    elif ticket.state is State.RESOLVED and ticket.resolved_at is not None:
        hours = config.confirm_window_hours
        at = ticket.resolved_at + timedelta(hours=hours)
        out.append(Timer(at, AUTO_CLOSE, "confirm", hours, str(ticket.reopen_count), (), at))
    return sorted(out, key=lambda t: (t.at, t.kind, t.limit, t.threshold))


def receipt_timers(ticket: Ticket, config: Config, events: Sequence[Event] = ()) -> list[Timer]:
    """The reminder and the deadline to acknowledge an assigned job not acknowledged yet:
    the claim limit of its category and priority, counted from the latest assignment or
    transfer (in business hours when the category counts them). Each assignment is its
    own cycle, so the next holder gets his own time."""
    if (
        not config.flow.receipt
        or ticket.state is not State.ASSIGNED
        or not ticket.holder
        or ticket.acknowledged_at is not None
    ):
        return []
    handed = [e for e in events if e.action in (Action.ASSIGN, Action.TRANSFER)]
    start = handed[-1].at if handed else ticket.updated_at
    cycle = f"r{len(handed)}"
    minutes = sla.limits_for(config, ticket.category, ticket.priority).claim
    business = sla.business_hours(config, ticket.category)
    deadline = sla.add(start, minutes, config, business=business)
    if deadline is None:
        return []
    percent = config.flow.receipt_remind_percent
    out: list[Timer] = []
    remind = sla.add(start, minutes * percent / 100, config, business=business)
    if remind is not None:
        out.append(Timer(remind, REMIND, RECEIPT, percent, cycle, (), deadline))
    to = ("dispatcher",) if config.dispatchers else ()
    out.append(Timer(deadline, ESCALATE, RECEIPT, 100, cycle, to, deadline))
    return out


def _reachable(to: str, ticket: Ticket, config: Config) -> bool:
    if to == "lead":
        return ticket.team in config.dispatch.team_leads
    return bool(config.dispatchers)


def due(planned: Sequence[Timer], fired: Collection[TimerKey], now: datetime) -> Due:
    """The timers of ``planned`` to fire at ``now``. A reminder whose clock already
    reached a later stage (fired, or due now as well — after downtime, say) is skipped:
    "half the time is used" next to "the time is up" is noise."""
    ready = [t for t in planned if t.at <= now and t.key not in fired]
    reached: dict[tuple[str, str], int] = {}
    for t in planned:
        if t.kind in (REMIND, ESCALATE) and (t.key in fired or t in ready):
            clock = (t.cycle, t.limit)
            reached[clock] = max(reached.get(clock, 0), t.threshold)
    fire, skip = [], []
    for t in ready:
        if t.kind == REMIND and reached.get((t.cycle, t.limit), 0) > t.threshold:
            skip.append(t)
        else:
            fire.append(t)
    return Due(tuple(fire), tuple(skip))


def action_of(timer: Timer) -> tuple[Action, str, dict[str, Any]]:
    """The workflow action a fired timer takes, with its note and event data."""
    data: dict[str, Any] = {"timer": ":".join(map(str, timer.key))}
    if timer.deadline is not None:
        data["due"] = timer.deadline.astimezone(UTC).isoformat()
    if timer.kind == REMIND:
        return Action.REMIND, "", {**data, "limit": timer.limit, "percent": timer.threshold}
    if timer.kind == ESCALATE:
        extra = {"limit": timer.limit, "percent": timer.threshold, "to": list(timer.to)}
        return Action.ESCALATE, "", {**data, **extra}
    if timer.kind == UNCLAIMED:
        extra = {"limit": UNCLAIMED, "minutes": timer.threshold, "to": list(timer.to)}
        return Action.ESCALATE, "", {**data, **extra}
    return Action.CONFIRM, "", {**data, "auto": True, "hours": timer.threshold}
