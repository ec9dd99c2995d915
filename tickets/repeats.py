"""The repeat-report rules (重复报修) of the telecom 112 desk, as pure functions.

- ``judge``: what a new report of a reporter means given that reporter's own tickets —
  a hurry of the open ticket of the same fault (and a complaint once it has been open
  longer than ``hurry_hours``), a reopen of a ticket resolved less than ``repeat_days``
  ago, or, once that ticket is closed, a new ticket flagged as its repeat.
- ``duplicates``: other people's open tickets that look like the same fault (same
  category and building, or close by when both have coordinates, filed within
  ``duplicate_minutes``), suggested to the dispatcher for merging.

No store, no clock, no configuration file: tickets, rules and ``now`` come in as
arguments, and the store and the dialogues act on the answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.rules_config import RepeatRules
from tickets.model import State, Ticket

EARTH_RADIUS_M = 6_371_000.0
_DONE = frozenset({State.RESOLVED, State.CLOSED})


@dataclass(frozen=True)
class Hurry:
    """The fault is still open in ``number``: hurry it; ``complaint`` when it has been
    open longer than the configured hours (a complaint about the repair time)."""

    number: str
    complaint: bool
    open_hours: int


@dataclass(frozen=True)
class Reopen:
    """``number`` was resolved less than ``repeat_days`` ago and is not confirmed yet:
    reopen it, flagged as a repeat (a complaint about quality)."""

    number: str
    resolved_at: datetime


@dataclass(frozen=True)
class Repeat:
    """``previous`` was fixed less than ``repeat_days`` ago and is closed: the new
    report is filed, flagged as its repeat, and the dispatcher is told."""

    previous: str
    resolved_at: datetime


Verdict = Hurry | Reopen | Repeat


def same_spot(a: str, b: str) -> bool:
    """ "3楼 302" and "3楼302 " are the same spot: people retype it differently."""
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def judge(
    mine: Iterable[Ticket], category: str, spot: str, now: datetime, rules: RepeatRules
) -> Verdict | None:
    """What a report of ``category`` at ``spot`` means, given the reporter's tickets."""
    if not rules.enabled:
        return None
    same = [t for t in mine if t.category == category and same_spot(t.spot, spot)]
    still_open = sorted((t for t in same if t.is_open), key=lambda t: t.created_at)
    if still_open:
        # The oldest open one is the report the 112 rules count the waiting from.
        first = still_open[0]
        waited = now - first.created_at
        hours = max(0, int(waited.total_seconds() // 3600))
        return Hurry(first.number, waited > timedelta(hours=rules.hurry_hours), hours)
    window = timedelta(days=rules.repeat_days)
    fixed = [
        t
        for t in same
        if t.state in _DONE and t.resolved_at is not None and now - t.resolved_at <= window
    ]
    if not fixed:
        return None
    last = max(fixed, key=lambda t: t.resolved_at or now)
    assert last.resolved_at is not None
    if last.state is State.RESOLVED:
        return Reopen(last.number, last.resolved_at)
    return Repeat(last.number, last.resolved_at)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine); plenty for "within 100 m"."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def near(a: Ticket, b: Ticket, radius_m: float) -> bool:
    """Both have coordinates and lie within ``radius_m`` of each other."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return False
    assert a.latitude is not None and a.longitude is not None
    assert b.latitude is not None and b.longitude is not None
    return distance_m(a.latitude, a.longitude, b.latitude, b.longitude) <= radius_m


def same_place(a: Ticket, b: Ticket, radius_m: float) -> bool:
    """Same area and building, or (without a building) close by."""
    if a.building and b.building:
        return a.area == b.area and a.building == b.building
    return near(a, b, radius_m)


def duplicates(ticket: Ticket, others: Iterable[Ticket], rules: RepeatRules) -> list[Ticket]:
    """Open tickets of other reporters that may be the same fault as ``ticket``, oldest
    first (the first is the natural master)."""
    if not rules.enabled:
        return []
    window = timedelta(minutes=rules.duplicate_minutes)
    found = [
        t
        for t in others
        if t.number != ticket.number
        and t.is_open
        and t.reporter != ticket.reporter
        and t.category == ticket.category
        and abs(ticket.created_at - t.created_at) <= window
        and same_place(ticket, t, rules.duplicate_radius_m)
    ]
    return sorted(found, key=lambda t: (t.created_at, t.number))
