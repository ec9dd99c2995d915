"""The dispatch part of the configuration: who gets a job and how its time is counted.

Records for ``[dispatch]`` (reminders, escalation chain, claim re-offer, job cap,
business hours, priority-raising keywords, follow-up), ``[holidays]``, ``[[duty]]``,
``[[leave]]``, and the dispatch keys of ``[[teams]]`` (``areas``, ``lead``) and of
categories (``business_hours``, ``escalate``, ``area_teams``, ``priority_limits``).

``parse`` is called by ``config.loader`` with its own table reader, so every message
names the key path, the value and the fix the same way. Like the loader, this module
reads only what it is given: no files, no clock, no database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tickets.model import Priority

if TYPE_CHECKING:  # the loader imports this module; its reader is only a type here
    from config.model import CategoryGroup, Team, TimeLimits
    from config.table import _Table

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PRIORITIES = tuple(p.value for p in Priority)
_LIMIT_KEYS = ("claim", "arrive", "resolve")

ROOT_KEYS = ("dispatch", "holidays", "duty", "leave")
TEAM_KEYS = ("areas", "lead")
CATEGORY_KEYS = ("business_hours", "escalate", "area_teams", "priority_limits")
# fmt: off
SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "dispatch": ("unclaimed_minutes", "max_open_jobs", "reminders", "escalate", "tick_seconds",
                 "follow_up_rating", "not_fixed_keywords", "business_hours", "raise"),
    "dispatch.escalate": ("to", "at"),
    "dispatch.business_hours": ("days", "hours"),
    "dispatch.raise": ("keywords", "priority", "categories"),
    "holidays": ("dates", "workdays"),
    "duty": ("technicians", "teams", "days", "hours", "holidays"),
    "leave": ("technician", "start", "end", "reason"),
    **{
        f"{kind}.{key}": keys
        for kind in ("categories", "categories.children")
        for key, keys in (
            ("escalate", ("to", "at")),
            ("priority_limits", _PRIORITIES),
            ("priority_limits.<priority>", _LIMIT_KEYS),
        )
    },
})
"""The loader's SCHEMA entries for the tables of this module (keys of ``[[teams]]`` and
of categories are added to theirs: ``TEAM_KEYS``, ``CATEGORY_KEYS``)."""
# fmt: on
ESCALATE_TO = ("dispatcher", "lead")
_HOURS = re.compile(r"([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


@dataclass(frozen=True)
class Window:
    """Minutes after local midnight, ``start`` < ``end``; an overnight window
    (``22:00-06:00``) ends after 1440 and belongs to the day it starts on."""

    start: int
    end: int


@dataclass(frozen=True)
class Week:
    """Weekly hours: the weekdays (0 = Monday) and the windows of each of them."""

    days: frozenset[int]
    windows: tuple[Window, ...]


OFFICE_WEEK = Week(frozenset(range(5)), (Window(8 * 60 + 30, 17 * 60 + 30),))
"""Business hours when ``[dispatch.business_hours]`` is not given: Mon–Fri 08:30–17:30."""


@dataclass(frozen=True)
class Duty:
    """A weekly on-duty schedule for some technicians (by id or by team)."""

    week: Week
    technicians: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    holidays: bool = False  # also on duty on public holidays (an emergency crew)


@dataclass(frozen=True)
class Leave:
    """A technician away from ``start`` (inclusive) to ``end`` (exclusive), UTC."""

    technician: str
    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True)
class Escalation:
    """Tell ``to`` (the dispatchers, or the team's lead) when ``at`` % of a limit is used."""

    to: str
    at: int


DEFAULT_ESCALATION = (Escalation("dispatcher", 100), Escalation("lead", 150))


@dataclass(frozen=True)
class RaiseRule:
    """Words in what a reporter says that raise a ticket to ``priority``."""

    keywords: tuple[str, ...]
    priority: Priority
    categories: tuple[str, ...] = ()  # group or leaf codes; empty means every category


@dataclass(frozen=True)
class CategoryDispatch:
    """Dispatch settings of one leaf category (its group's, then its own)."""

    business_hours: bool = False
    escalate: tuple[Escalation, ...] | None = None  # None: [dispatch] escalate
    area_teams: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    priority_limits: Mapping[Priority, TimeLimits] = field(
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(frozen=True)
class DispatchConfig:
    unclaimed_minutes: int = 30
    max_open_jobs: int | None = None  # None: no cap
    reminders: tuple[int, ...] = (50, 80)
    escalate: tuple[Escalation, ...] = DEFAULT_ESCALATION
    tick_seconds: int = 30
    follow_up_rating: int = 2
    not_fixed_keywords: tuple[str, ...] = ("没修好", "没有修好", "还是坏", "not fixed")
    business: Week = OFFICE_WEEK
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up working days (调休) on a weekend
    duty: tuple[Duty, ...] = ()
    leave: tuple[Leave, ...] = ()
    raise_rules: tuple[RaiseRule, ...] = ()
    team_areas: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    team_leads: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    categories: Mapping[str, CategoryDispatch] = field(default_factory=lambda: MappingProxyType({}))

    def of(self, category: str) -> CategoryDispatch:
        return self.categories.get(category) or _PLAIN

    def escalation(self, category: str) -> tuple[Escalation, ...]:
        own = self.of(category).escalate
        return self.escalate if own is None else own


_PLAIN = CategoryDispatch()


# -- parsing ------------------------------------------------------------------------


def parse(
    root: _Table,
    *,
    groups: Sequence[CategoryGroup],
    areas: Sequence[str],
    teams: Sequence[Team],
    technicians: Sequence[str],
    dispatchers: Sequence[str],
    timezone: str,
    limits: Mapping[Priority, TimeLimits],
) -> DispatchConfig:
    """The dispatch settings in the document ``root`` (already checked against SCHEMA)."""
    from config import loader  # at call time: the loader is the one calling

    table = root.table("dispatch", "dispatch")
    escalate = _escalation(table, "dispatch.escalate") if "escalate" in table.raw else None
    reminders = _percents(table, "reminders", (50, 80))
    cap = table.integer("max_open_jobs", 8, unit="jobs") if "max_open_jobs" in table.raw else None
    business = table.table("business_hours", "dispatch.business_hours")
    holidays = root.table("holidays", "holidays")
    team_codes = [t.code for t in teams]
    categories = [c.code for g in groups for c in g.children] + [g.code for g in groups]
    return DispatchConfig(
        unclaimed_minutes=table.integer("unclaimed_minutes", 30, unit="minutes"),
        max_open_jobs=cap,
        reminders=reminders,
        escalate=DEFAULT_ESCALATION if escalate is None else escalate,
        tick_seconds=table.integer("tick_seconds", 30, unit="seconds", high=3600),
        follow_up_rating=table.integer("follow_up_rating", 2, high=5),
        not_fixed_keywords=(
            table.texts("not_fixed_keywords")
            if "not_fixed_keywords" in table.raw
            else DispatchConfig.not_fixed_keywords
        ),
        business=_week(business, OFFICE_WEEK) if business.raw else OFFICE_WEEK,
        holidays=frozenset(_dates(holidays, "dates")),
        workdays=frozenset(_dates(holidays, "workdays")),
        duty=tuple(_duty(t, technicians, team_codes) for t in root.tables("duty", "duty")),
        leave=tuple(
            _leave(t, technicians, ZoneInfo(timezone)) for t in root.tables("leave", "leave")
        ),
        raise_rules=tuple(_raise(t, categories) for t in table.tables("raise", "dispatch.raise")),
        team_areas=MappingProxyType(
            {
                t.code("code"): _known(t, "areas", areas, "area")
                for t in root.tables("teams", "teams")
                if "areas" in t.raw
            }
        ),
        team_leads=MappingProxyType(
            {
                t.code("code"): _lead(t, [*technicians, *dispatchers])
                for t in root.tables("teams", "teams")
                if "lead" in t.raw
            }
        ),
        categories=_categories(root, areas, teams, limits, loader),
    )


def _categories(
    root: _Table,
    areas: Sequence[str],
    teams: Sequence[Team],
    limits: Mapping[Priority, TimeLimits],
    loader: Any,
) -> Mapping[str, CategoryDispatch]:
    found: dict[str, CategoryDispatch] = {}
    for g in root.tables("categories", "categories"):
        g_code = g.code("code")
        for c in g.tables("children", "categories.children"):
            tables = (g, c)
            kinds = ("categories", "categories.children")
            if not any(key in t.raw for t in tables for key in CATEGORY_KEYS):
                continue
            business = False
            escalate: tuple[Escalation, ...] | None = None
            area_teams: dict[str, str] = {}
            layers: dict[Priority, list[_Table]] = {}
            for t, kind in zip(tables, kinds, strict=True):
                business = t.flag("business_hours", business)
                if "escalate" in t.raw:
                    escalate = _escalation(t, f"{kind}.escalate")
                area_teams.update(_area_teams(t, areas, teams))
                if "priority_limits" in t.raw:
                    own = t.table("priority_limits", f"{kind}.priority_limits")
                    for p in Priority:
                        if p.value in own.raw:
                            sub = own.table(p.value, f"{kind}.priority_limits.<priority>")
                            layers.setdefault(p, []).append(sub)
            by_priority = {p: loader._limits(ts, limits[p]) for p, ts in layers.items()}
            found[f"{g_code}.{c.code('code')}"] = CategoryDispatch(
                business_hours=business,
                escalate=escalate,
                area_teams=MappingProxyType(area_teams),
                priority_limits=MappingProxyType(by_priority),
            )
    return MappingProxyType(found)


def _area_teams(t: _Table, areas: Sequence[str], teams: Sequence[Team]) -> dict[str, str]:
    raw = t.raw.get("area_teams", {})
    if not isinstance(raw, dict):
        t.fail("area_teams", raw, _m("must_be_table"), _m("area_teams_fix"))
    by_code = {team.code: team for team in teams}
    found = {}
    for area, team in raw.items():
        key = f"area_teams.{area}"
        if area not in areas:
            t.fail(
                key, team, _root("no_area"), _root("no_area_fix", hint="", areas=", ".join(areas))
            )
        if not isinstance(team, str) or team not in by_code:
            fix = _m("use_one_of", options=", ".join(by_code))
            t.fail(key, team, _root("no_team"), fix)
        if not by_code[team].members:
            t.fail(key, team, _m("team_no_members"), _m("team_no_members_fix"))
        found[area] = team
    return found


def _escalation(t: _Table, kind: str) -> tuple[Escalation, ...]:
    key = "escalate"
    steps = t.tables(key, kind)
    if not steps:
        t.fail(key, [], _m("no_steps"), _m("no_steps_fix"))
    out = []
    for step in steps:
        to = step.choice("to", ESCALATE_TO, "dispatcher")
        at = step.integer("at", 100, unit="percent", high=1000)
        if at < 100:
            step.fail("at", at, _m("escalate_low"), _m("escalate_low_fix"))
        out.append(Escalation(to, at))
    return tuple(sorted(out, key=lambda e: (e.at, e.to)))


def _percents(t: _Table, key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    if key not in t.raw:
        return default
    value = t.raw[key]
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 99 for v in value
    ):
        t.fail(key, value, _m("percents"), _m("percents_fix", key=key))
    return tuple(sorted(set(value)))


def _week(t: _Table, default: Week) -> Week:
    days = t.texts("days") if "days" in t.raw else tuple(WEEKDAYS[d] for d in sorted(default.days))
    for i, day in enumerate(days):
        if day not in WEEKDAYS:
            t.fail(
                f"days[{i}]",
                day,
                _m("not_weekday"),
                _m("not_weekday_fix", days=", ".join(WEEKDAYS)),
            )
    if not days:
        t.fail("days", [], _m("no_days"), _m("no_days_fix"))
    windows = _windows(t) if "hours" in t.raw else default.windows
    return Week(frozenset(WEEKDAYS.index(d) for d in days), windows)


def _windows(t: _Table) -> tuple[Window, ...]:
    hours = t.texts("hours")
    if not hours:
        t.fail("hours", [], _m("no_spans"), _m("no_spans_fix"))
    out = []
    for i, text in enumerate(hours):
        match = _HOURS.fullmatch(text.replace(" ", ""))
        if match is None:
            t.fail(f"hours[{i}]", text, _m("bad_span"), _m("bad_span_fix"))
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start >= 1440 or end > 1440 or start == end:
            t.fail(f"hours[{i}]", text, _m("bad_span"), _m("bad_span_range_fix"))
        out.append(Window(start, end if end > start else end + 1440))
    return tuple(sorted(out, key=lambda w: w.start))


def _duty(t: _Table, technicians: Sequence[str], teams: Sequence[str]) -> Duty:
    people = _known(t, "technicians", technicians, "technician")
    crews = _known(t, "teams", teams, "team")
    if not people and not crews:
        t.fail("technicians", [], _m("names_nobody"), _m("names_nobody_fix"))
    if "hours" not in t.raw:
        t.fail("hours", "", _m("missing"), _m("hours_missing_fix"))
    week = _week(t, Week(frozenset(range(7)), (Window(0, 1440),)))
    return Duty(week, people, crews, t.flag("holidays", False))


def _leave(t: _Table, technicians: Sequence[str], zone: ZoneInfo) -> Leave:
    who = t.text("technician")
    if who not in technicians:
        fix = _m("use_one_of", options=", ".join(technicians))
        t.fail("technician", who, _root("not_technician"), fix)
    start = _moment(t, "start", zone, end=False)
    end = _moment(t, "end", zone, end=True)
    if end <= start:
        t.fail("end", t.raw["end"], _m("end_not_after_start"), _m("end_not_after_start_fix"))
    return Leave(who, start, end, t.text("reason", "", empty=True))


def _moment(t: _Table, key: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date (the whole day: its start, or for ``end`` the next midnight) or a local
    date and time, as an aware UTC datetime."""
    raw = t.raw.get(key)
    value: Any = raw
    if isinstance(raw, str):
        try:
            value = (
                datetime.fromisoformat(raw) if "T" in raw or " " in raw else date.fromisoformat(raw)
            )
        except ValueError:
            value = None
    if isinstance(value, datetime):
        local = value if value.tzinfo else value.replace(tzinfo=zone)
        return local.astimezone(UTC)
    if isinstance(value, date):
        day = value + timedelta(days=1) if end else value
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    if raw is None:
        t.fail(key, "", _m("missing"), _m("date_missing_fix", key=key))
    t.fail(key, raw, _m("not_date"), _m("not_date_fix"))


def _dates(t: _Table, key: str) -> list[date]:
    value = t.raw.get(key, [])
    if not isinstance(value, list):
        t.fail(key, value, _m("dates"), _m("dates_fix", key=key))
    out = []
    for i, item in enumerate(value):
        day: date | None = None
        if isinstance(item, date) and not isinstance(item, datetime):
            day = item
        elif isinstance(item, str):
            try:
                day = date.fromisoformat(item.strip())
            except ValueError:
                day = None
        if day is None:
            t.fail(f"{key}[{i}]", item, _m("not_date"), _m("not_day_fix"))
        out.append(day)
    return out


def _raise(t: _Table, categories: Sequence[str]) -> RaiseRule:
    keywords = t.texts("keywords")
    if not keywords:
        t.fail("keywords", [], _m("no_keywords"), _m("no_keywords_fix"))
    priority = Priority(t.choice("priority", [p.value for p in Priority], "urgent"))
    return RaiseRule(
        tuple(k.casefold() for k in keywords),
        priority,
        _known(t, "categories", categories, "category"),
    )


def _known(t: _Table, key: str, options: Sequence[str], what: str) -> tuple[str, ...]:
    items = t.texts(key)
    for i, item in enumerate(items):
        if item not in options:
            fix = _m("use_one_of", options=", ".join(options))
            t.fail(f"{key}[{i}]", item, _m(f"no_such_{what}"), fix)
    return items


def _lead(t: _Table, people: Sequence[str]) -> str:
    lead = t.text("lead")
    if lead not in people:
        fix = _m("not_person_fix", people=", ".join(people))
        t.fail("lead", lead, _m("not_person"), fix)
    return lead


def _m(key: str, /, **params: Any) -> str:
    """A ``config_check.sections`` message in the language problems are reported in."""
    from config.table import _m as message

    return message(f"sections.{key}", **params)


def _root(key: str, /, **params: Any) -> str:
    """A message the loader's own checks use too (``config_check.<key>``)."""
    from config.table import _m as message

    return message(key, **params)
