"""Who is on duty when: weekly schedules, public holidays and make-up working days
(调休), and per-person leave.

Pure: the moment is an argument (aware, UTC) and local days come from the configured
time zone. A technician no ``[[duty]]`` entry names is on duty around the clock (a small
team that never set a schedule keeps getting jobs); leave always wins. The same weekly
calendar arithmetic serves business hours (``tickets.sla``). Nothing here reads the
database or knows about tickets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.dispatch_config import DispatchConfig, Duty, Leave, Week
from config.model import Config

WORKING_WEEKDAYS = frozenset(range(5))
"""Monday to Friday: a make-up working day (调休) follows the schedules of these."""


def is_working_day(
    day: date, week: Week, dispatch: DispatchConfig, *, holidays: bool = False
) -> bool:
    """Whether ``week`` applies on ``day``: a make-up working day counts as a weekday,
    a public holiday counts as a day off unless ``holidays`` (the schedule works them)."""
    if day in dispatch.workdays:
        return bool(week.days & WORKING_WEEKDAYS)
    if day in dispatch.holidays and not holidays:
        return False
    return day.weekday() in week.days


def spans_on(
    day: date, week: Week, dispatch: DispatchConfig, zone: ZoneInfo, *, holidays: bool = False
) -> list[tuple[datetime, datetime]]:
    """The windows of ``week`` that start on local ``day``, as aware times (UTC-comparable)."""
    if not is_working_day(day, week, dispatch, holidays=holidays):
        return []
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    return [
        (midnight + timedelta(minutes=w.start), midnight + timedelta(minutes=w.end))
        for w in week.windows
    ]


def spans_from(
    moment: datetime, week: Week, dispatch: DispatchConfig, zone: ZoneInfo, *, days: int = 3660
) -> Iterator[tuple[datetime, datetime]]:
    """Windows of ``week`` that end after ``moment``, in order, clipped to start no earlier
    than it; gives up after ``days`` days (a calendar without working time)."""
    day = moment.astimezone(zone).date() - timedelta(days=1)  # yesterday's overnight window
    for _ in range(days):
        for start, end in spans_on(day, week, dispatch, zone):
            if end > moment:
                yield max(start, moment), end
        day += timedelta(days=1)


def in_week(
    moment: datetime,
    week: Week,
    dispatch: DispatchConfig,
    zone: ZoneInfo,
    *,
    holidays: bool = False,
) -> bool:
    today = moment.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        for start, end in spans_on(day, week, dispatch, zone, holidays=holidays):
            if start <= moment < end:
                return True
    return False


def leave_of(technician: str, moment: datetime, dispatch: DispatchConfig) -> Leave | None:
    return next(
        (
            leave
            for leave in dispatch.leave
            if leave.technician == technician and leave.start <= moment < leave.end
        ),
        None,
    )


def schedules_of(technician: str, config: Config) -> tuple[Duty, ...]:
    return _index(config).schedules.get(technician, ())


def off_duty_reason(technician: str, moment: datetime, config: Config) -> str | None:
    """``"leave"``, ``"off_duty"``, or ``None`` when the technician is on duty."""
    index = _index(config)
    if any(a.start <= moment < a.end for a in index.leave.get(technician, ())):
        return "leave"
    schedules = index.schedules.get(technician)
    if not schedules:
        return None
    dispatch = config.dispatch
    if any(in_week(moment, d.week, dispatch, index.zone, holidays=d.holidays) for d in schedules):
        return None
    return "off_duty"


def has_rules(config: Config) -> frozenset[str]:
    """The technicians a schedule or a leave names: everyone else is always on duty."""
    index = _index(config)
    return frozenset(index.schedules) | frozenset(index.leave)


def on_duty(technician: str, moment: datetime, config: Config) -> bool:
    return off_duty_reason(technician, moment, config) is None


@dataclass(frozen=True)
class _Index:
    zone: ZoneInfo
    schedules: dict[str, tuple[Duty, ...]]
    leave: dict[str, tuple[Leave, ...]]


# Routing asks about every member of a team for every new ticket: the schedules and
# leave of each technician are looked up once per configuration, not searched each time.
_INDEXES: dict[int, tuple[Config, _Index]] = {}


def _index(config: Config) -> _Index:
    entry = _INDEXES.get(id(config))
    if entry is None or entry[0] is not config:
        if len(_INDEXES) > 8:
            _INDEXES.clear()
        schedules: dict[str, list[Duty]] = {}
        for d in config.dispatch.duty:
            named = set(d.technicians)
            for team in config.teams:
                if team.code in d.teams:
                    named.update(team.members)
            for person in named:
                schedules.setdefault(person, []).append(d)
        leave: dict[str, list[Leave]] = {}
        for away in config.dispatch.leave:
            leave.setdefault(away.technician, []).append(away)
        index = _Index(
            ZoneInfo(config.timezone),
            {k: tuple(v) for k, v in schedules.items()},
            {k: tuple(v) for k, v in leave.items()},
        )
        entry = (config, index)
        _INDEXES[id(config)] = entry
    return entry[1]
