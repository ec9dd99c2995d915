"""Large-area incidents (大面积故障), as records and pure functions.

An incident is one fault behind many reports (a feeder outage, a cut fibre): K reports
of one category from different people in one area within T minutes (``cluster``) make
one, proposed to the dispatchers or opened at once. While it is open, a report of that
category in that area (``covers``) joins it instead of becoming a new job, and when it
is closed every linked reporter is told once.

Pure: the store keeps the incidents and their linked reports and calls these functions;
nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from config.rules_config import IncidentRules
from tickets.model import State, Ticket
from tickets.repeats import distance_m


class IncidentState(StrEnum):
    PROPOSED = "proposed"  # K-in-T seen; waiting for a dispatcher to open it
    OPEN = "open"  # known fault, being handled: new reports join it
    CLOSED = "closed"  # fixed (or a proposal dismissed)


@dataclass(frozen=True)
class Incident:
    id: int
    state: IncidentState
    category: str  # a leaf code, or a group code covering its leaves
    area: str  # area code; "" when the incident is a circle around coordinates
    created_at: datetime
    latitude: float | None = None
    longitude: float | None = None
    master: str | None = None  # the ticket it was found or declared from
    note: str = ""
    expected_at: datetime | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    opened_by: str = ""
    closed_by: str = ""
    resolution: str = ""

    @property
    def code(self) -> str:
        """How people name it: ``#7``."""
        return f"#{self.id}"


@dataclass(frozen=True)
class Linked:
    """One reporter linked to an incident (told once when it is closed)."""

    incident: int
    channel: str
    chat: str
    locale: str
    joined_at: datetime
    number: str | None = None  # their ticket, when the report had become one
    spot: str = ""
    description: str = ""


def category_covers(spec: str, leaf: str) -> bool:
    """``power`` covers ``power.outage``; a leaf covers only itself."""
    return leaf == spec or leaf.startswith(f"{spec}.")


def covers(
    incident: Incident,
    *,
    area: str,
    category: str,
    latitude: float | None,
    longitude: float | None,
    radius_m: float,
) -> bool:
    """Whether a report of ``category`` at this place belongs to ``incident``."""
    if not category_covers(incident.category, category):
        return False
    if incident.area:
        return area == incident.area
    if None in (incident.latitude, incident.longitude, latitude, longitude):
        return False
    assert incident.latitude is not None and incident.longitude is not None
    assert latitude is not None and longitude is not None
    return distance_m(incident.latitude, incident.longitude, latitude, longitude) <= radius_m


def covering(
    incidents: Iterable[Incident],
    *,
    area: str,
    category: str,
    latitude: float | None = None,
    longitude: float | None = None,
    radius_m: float,
) -> Incident | None:
    """The open incident a report belongs to (the most recently opened one)."""
    found = [
        i
        for i in incidents
        if i.state is IncidentState.OPEN
        and covers(
            i,
            area=area,
            category=category,
            latitude=latitude,
            longitude=longitude,
            radius_m=radius_m,
        )
    ]
    return max(found, key=lambda i: (i.opened_at or i.created_at, i.id), default=None)


def _together(ticket: Ticket, other: Ticket, rules: IncidentRules) -> bool:
    if ticket.area:
        return other.area == ticket.area
    if None in (ticket.latitude, ticket.longitude, other.latitude, other.longitude):
        return False
    assert ticket.latitude is not None and ticket.longitude is not None
    assert other.latitude is not None and other.longitude is not None
    d = distance_m(ticket.latitude, ticket.longitude, other.latitude, other.longitude)
    return d <= rules.radius_m


def cluster(
    ticket: Ticket, recent: Iterable[Ticket], now: datetime, rules: IncidentRules
) -> list[Ticket]:
    """``ticket`` and the tickets that make it part of a large-area fault (K reports of
    its category from different people in its area within T minutes), oldest first;
    empty when there are not enough of them.

    One person reporting three times is one report: the repeat rules already turn it
    into hurries, and three hurries are no feeder outage."""
    if not rules.enabled or not (ticket.area or ticket.latitude is not None):
        return []
    since = now - timedelta(minutes=rules.window_minutes)
    found = {ticket.number: ticket}
    for other in recent:
        if (
            other.category == ticket.category
            and other.state not in (State.CANCELLED, State.DUPLICATE)
            and other.created_at >= since
            and _together(ticket, other, rules)
        ):
            found.setdefault(other.number, other)
    ordered = sorted(found.values(), key=lambda t: (t.created_at, t.number))
    if len({t.reporter for t in ordered}) < rules.reports:
        return []
    return ordered


def expected(rules: IncidentRules, now: datetime, given: datetime | None = None) -> datetime:
    """When the repair is announced to be done: as given, else after ``eta_minutes``."""
    return given if given is not None else now + timedelta(minutes=rules.eta_minutes)
