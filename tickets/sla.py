"""Time limits (时限): when a ticket must be claimed, reached and resolved.

The limits are per category × priority (``limits_for``) and count either calendar time
or the configured business hours (per category), skipping public holidays and counting
make-up working days. Paused time never counts: pauses are read from the ticket's event
log, so the deadlines after a resume are the old ones pushed out by exactly the counted
time the pause took. The arrive and resolve clocks start at acceptance (or at the latest
reopen); the claim clock restarts when a technician releases the job back to the queue.

Pure: every moment is an argument; nothing here reads the database or the clock.
``recompute(ticket, config, now, events=…)`` is what the store (and the dispatcher's
priority command, through ``Store.set_priority``) calls after a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from config.model import Config, TimeLimits
from tickets import duty
from tickets.model import Action, Event, Priority, State, Ticket

LIMITS = ("claim", "arrive", "resolve")
RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}
"""Lower is more pressing."""
FAR = datetime.max.replace(tzinfo=UTC)

Pause = tuple[datetime, datetime | None]
"""(paused at, resumed at); ``None`` while it lasts."""


# -- which limits ---------------------------------------------------------------------


def limits_for(config: Config, category: str, priority: Priority) -> TimeLimits:
    """The category's own ``priority_limits`` for ``priority``; else its limits when
    ``priority`` is its default one; else the service's ``[limits.<priority>]``."""
    own = config.dispatch.of(category).priority_limits.get(priority)
    if own is not None:
        return own
    leaf = config.category(category)
    if leaf is not None and leaf.priority is priority:
        return leaf.limits
    return config.limits[priority]


def business_hours(config: Config, category: str) -> bool:
    return config.dispatch.of(category).business_hours


def raised_priority(
    text: str, category: str, priority: Priority, config: Config
) -> tuple[Priority, str] | None:
    """The more pressing priority a configured keyword in ``text`` calls for, with the
    keyword; ``None`` when nothing raises it above ``priority``."""
    folded = text.casefold()
    group = category.split(".")[0]
    best: tuple[Priority, str] | None = None
    for rule in config.dispatch.raise_rules:
        if rule.categories and category not in rule.categories and group not in rule.categories:
            continue
        if RANK[rule.priority] >= RANK[best[0] if best else priority]:
            continue
        word = next((k for k in rule.keywords if k in folded), None)
        if word is not None:
            best = (rule.priority, word)
    return best


# -- counting time --------------------------------------------------------------------


def _spans(
    start: datetime, config: Config, business: bool, pauses: Sequence[Pause]
) -> Iterator[tuple[datetime, datetime]]:
    """The stretches after ``start`` that count, in order."""
    if business:
        zone = ZoneInfo(config.timezone)
        base: Iterable[tuple[datetime, datetime]] = (
            (a.astimezone(UTC), b.astimezone(UTC))
            for a, b in duty.spans_from(start, config.dispatch.business, config.dispatch, zone)
        )
    else:
        base = [(start, FAR)]
    cuts = sorted((a, b or FAR) for a, b in pauses)
    for a, b in base:
        for p0, p1 in cuts:
            if p1 <= a or p0 >= b:
                continue
            if p0 > a:
                yield a, p0
            a = max(a, p1)
            if a >= b:
                break
        if a < b:
            yield a, b


def add(
    start: datetime,
    minutes: float,
    config: Config,
    *,
    business: bool = False,
    pauses: Sequence[Pause] = (),
) -> datetime | None:
    """The moment ``minutes`` of counted time have passed since ``start``; ``None`` if
    that never happens (it falls in a pause that has not ended)."""
    remaining = timedelta(minutes=minutes)
    if not business and not pauses:
        return start + remaining  # calendar time, one endless span: what _spans would give
    for a, b in _spans(start, config, business, pauses):
        if b == FAR or b - a >= remaining:
            return a + remaining
        remaining -= b - a
    return None


def elapsed(
    start: datetime,
    end: datetime,
    config: Config,
    *,
    business: bool = False,
    pauses: Sequence[Pause] = (),
) -> timedelta:
    """Counted time between ``start`` and ``end``."""
    total = timedelta()
    for a, b in _spans(start, config, business, pauses):
        if a >= end:
            break
        total += min(b, end) - a
    return total


# -- a ticket's clock -------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Everything needed to count one ticket's limits."""

    start: datetime  # acceptance, or the latest reopen
    claim_start: datetime  # ``start``, or the latest release after it
    limits: TimeLimits
    business: bool
    pauses: tuple[Pause, ...]

    def begins(self, limit: str) -> datetime:
        return self.claim_start if limit == "claim" else self.start

    def minutes(self, limit: str) -> int:
        return int(getattr(self.limits, limit))


def clock(ticket: Ticket, config: Config, events: Sequence[Event] = ()) -> Clock:
    """The clock of ``ticket`` from its timeline (``events`` oldest first; without them it
    counts from ``created_at`` with no pauses)."""
    start = claim_start = ticket.created_at
    pauses: list[Pause] = []
    for event in events:
        if event.action in (Action.ACCEPT, Action.REOPEN):
            start = claim_start = event.at
            pauses = []
        elif event.action is Action.RELEASE:
            claim_start = event.at
        # Whatever leaves the paused state ends the pause (resume, transfer, release).
        if event.from_state is State.PAUSED and event.to_state is not State.PAUSED and pauses:
            pauses[-1] = (pauses[-1][0], event.at)
        if event.to_state is State.PAUSED and event.from_state is not State.PAUSED:
            pauses.append((event.at, None))
    return Clock(
        start=start,
        claim_start=claim_start,
        limits=limits_for(config, ticket.category, ticket.priority),
        business=business_hours(config, ticket.category),
        pauses=tuple(pauses),
    )


def moment(c: Clock, limit: str, percent: float, config: Config) -> datetime | None:
    """When ``percent`` % of ``limit`` is used up (``None``: not while it is paused)."""
    return add(
        c.begins(limit),
        c.minutes(limit) * percent / 100,
        config,
        business=c.business,
        pauses=c.pauses,
    )


def used(c: Clock, limit: str, now: datetime, config: Config) -> float:
    """Percent of ``limit`` used up at ``now``."""
    spent = elapsed(c.begins(limit), now, config, business=c.business, pauses=c.pauses)
    return 100 * spent / timedelta(minutes=c.minutes(limit))


def recompute(
    ticket: Ticket, config: Config, now: datetime, *, events: Sequence[Event] = ()
) -> Ticket:
    """``ticket`` with its due times counted again (after a priority change, a resume, a
    reopen, a release). While it is paused, the due times shown are those it would have
    if work resumed at ``now``."""
    c = clock(ticket, config, events)
    if c.pauses and c.pauses[-1][1] is None:
        c = replace(c, pauses=(*c.pauses[:-1], (c.pauses[-1][0], max(now, c.pauses[-1][0]))))
    claim, arrive, resolve = (moment(c, limit, 100, config) for limit in LIMITS)
    claim, arrive, resolve = (
        claim or ticket.claim_due,
        arrive or ticket.arrive_due,
        resolve or ticket.resolve_due,
    )
    if (claim, arrive, resolve) == (ticket.claim_due, ticket.arrive_due, ticket.resolve_due):
        return ticket  # as counted already (a new ticket's, mostly): no copy of 45 fields
    return replace(ticket, claim_due=claim, arrive_due=arrive, resolve_due=resolve)
