"""Planned outages (停电信息): a dispatcher announces that an area will be without a
service (power, water, network) from a start to an end, and why. A resident who starts
a report of that category in that area during the window is told first, and may still
file; residents with an open report there are told when it is published.

Records, the window rule, and reading the times people type (``parse_when``). Pure:
``now`` and the time zone come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tickets.incidents import category_covers


class OutageState(StrEnum):
    ACTIVE = "active"  # published (its window may still be ahead)
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Outage:
    id: int
    area: str
    category: str  # a leaf code, or a group code covering its leaves
    starts_at: datetime
    ends_at: datetime
    reason: str
    state: OutageState
    created_at: datetime
    created_by: str = ""
    cancelled_at: datetime | None = None

    @property
    def code(self) -> str:
        return f"#{self.id}"

    def during(self, now: datetime) -> bool:
        return self.state is OutageState.ACTIVE and self.starts_at <= now < self.ends_at

    def current_or_ahead(self, now: datetime) -> bool:
        return self.state is OutageState.ACTIVE and now < self.ends_at


def covering(
    outages: Iterable[Outage], *, area: str, category: str, now: datetime
) -> Outage | None:
    """The outage going on now in ``area`` for ``category``, ending last if several."""
    found = [
        o
        for o in outages
        if o.during(now) and o.area == area and category_covers(o.category, category)
    ]
    return max(found, key=lambda o: (o.ends_at, o.id), default=None)


_RELATIVE = re.compile(r"\+(\d{1,4})([mhd])")
_TIME = re.compile(r"([01]?\d|2[0-3])[:：]([0-5]\d)")
_DATE = re.compile(r"(?:(\d{4})-)?(\d{1,2})-(\d{1,2})")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_when(text: str, now: datetime, timezone: str, *, today: bool = False) -> datetime | None:
    """A moment people type, in local time, as an aware UTC datetime; None if unreadable.

    ``+90m``, ``+2h``, ``+1d`` (from now); ``18:30`` (today; tomorrow if already past,
    unless ``today``: an outage window typed at 10:00 as 09:00–18:00 began this morning);
    ``11-24T09:00``, ``11-24 09:00``, ``2026-11-24T09:00`` (this year if left out).
    """
    raw = " ".join(text.replace("T", " ").split())
    if match := _RELATIVE.fullmatch(raw):
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return now + timedelta(**{unit: amount})
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    day, _, clock = raw.rpartition(" ")
    time_match = _TIME.fullmatch(clock)
    if time_match is None:
        return None
    hour, minute = int(time_match.group(1)), int(time_match.group(2))
    if not day:
        moment = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment < local_now and not today:
            moment += timedelta(days=1)
        return moment.astimezone(UTC)
    date_match = _DATE.fullmatch(day)
    if date_match is None:
        return None
    year = int(date_match.group(1) or local_now.year)
    try:
        moment = datetime(
            year, int(date_match.group(2)), int(date_match.group(3)), hour, minute, tzinfo=zone
        )
    except ValueError:
        return None
    return moment.astimezone(UTC)


def take_when(
    words: list[str], now: datetime, timezone: str, *, today: bool = False
) -> tuple[datetime | None, int]:
    """The moment at the start of ``words`` (a date and a time may be two words) and how
    many words it used; ``(None, 0)`` when the first word is no time."""
    if len(words) >= 2:
        both = parse_when(f"{words[0]} {words[1]}", now, timezone)
        if both is not None and _DATE.fullmatch(words[0]):
            return both, 2
    if words:
        one = parse_when(words[0], now, timezone, today=today)
        if one is not None:
            return one, 1
    return None, 0


def window_end(start: datetime, end: datetime, typed: str) -> datetime:
    """The end of a window whose end was typed as a bare time: before the start, it is
    the next day's (22:00–06:00 is one night, not a refusal)."""
    if end <= start and _TIME.fullmatch(typed.strip()):
        return end + timedelta(days=1)
    return end
