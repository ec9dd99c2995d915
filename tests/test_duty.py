"""On duty or not (tickets/duty.py), and reading [dispatch]/[holidays]/[[duty]]/[[leave]]
(config/dispatch_config.py). Time is an argument: nothing sleeps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dispatch_helpers import local, week, with_dispatch

from config.dispatch_config import Duty, Escalation, Leave, Window
from config.loader import load_text
from config.model import Config
from tickets import duty
from tickets.errors import ConfigError
from tickets.model import Priority

# Mon 2026-11-23 … Sun 2026-11-29; Wed 25th a public holiday, Sun 29th a make-up workday.
HOLIDAY, MAKE_UP = date(2026, 11, 25), date(2026, 11, 29)


@pytest.fixture
def rota(config: Config) -> Config:
    return with_dispatch(
        config,
        holidays=frozenset({HOLIDAY}),
        workdays=frozenset({MAKE_UP}),
        duty=(
            Duty(week("mon-fri", "08:00-18:00"), technicians=("zhang",)),
            Duty(week("mon-fri", "22:00-06:00"), technicians=("li",)),  # night shift
            Duty(week("sat,sun", "00:00-24:00"), teams=("net",), holidays=True),
        ),
        leave=(Leave("qian", local("2026-11-28 00:00"), local("2026-11-29 00:00"), "年假"),),
    )


ROTA = [
    # who, local time, why off (None: on duty)
    ("zhang", "2026-11-23 09:00", None),
    ("zhang", "2026-11-23 07:59", "off_duty"),
    ("zhang", "2026-11-23 18:00", "off_duty"),  # the end is not included
    ("zhang", "2026-11-25 10:00", "off_duty"),  # public holiday
    ("zhang", "2026-11-28 10:00", "off_duty"),  # Saturday
    ("zhang", "2026-11-29 10:00", None),  # make-up Sunday works like a weekday
    ("li", "2026-11-23 23:00", None),
    ("li", "2026-11-24 03:00", None),  # Monday's night shift runs into Tuesday
    ("li", "2026-11-23 03:00", "off_duty"),  # no Sunday night shift
    ("li", "2026-11-28 05:59", None),  # Friday's shift
    ("li", "2026-11-26 03:00", "off_duty"),  # Wednesday's shift fell on the holiday
    ("zhao", "2026-11-28 12:00", None),  # a weekend crew, by team
    ("zhao", "2026-11-25 12:00", "off_duty"),  # holidays=true, but not one of its days
    ("zhao", "2026-11-23 12:00", "off_duty"),
    ("qian", "2026-11-28 12:00", "leave"),  # leave wins over the schedule
    ("qian", "2026-11-29 12:00", "off_duty"),  # make-up day: weekday crews only
    ("sun", "2026-11-25 03:00", None),  # named by no schedule: always on duty
]


@pytest.mark.parametrize(("who", "when", "why"), ROTA, ids=[f"{w}@{t}" for w, t, _ in ROTA])
def test_who_is_on_duty(rota: Config, who: str, when: str, why: str | None) -> None:
    assert duty.off_duty_reason(who, local(when), rota) == why
    assert duty.on_duty(who, local(when), rota) is (why is None)


def test_leave_wins_even_without_a_schedule(config: Config) -> None:
    away = with_dispatch(
        config, leave=(Leave("sun", local("2026-11-23 12:00"), local("2026-11-23 14:00")),)
    )
    assert duty.off_duty_reason("sun", local("2026-11-23 13:59"), away) == "leave"
    assert duty.on_duty("sun", local("2026-11-23 14:00"), away)


def test_spans_skip_holidays_and_cross_midnight(rota: Config) -> None:
    zone = duty.ZoneInfo("Asia/Shanghai")
    night = week("mon-fri", "22:00-06:00")
    spans = duty.spans_from(local("2026-11-24 23:00"), night, rota.dispatch, zone)
    first, second = next(spans), next(spans)
    assert first == (local("2026-11-24 23:00"), local("2026-11-25 06:00"))
    # Wednesday is a holiday: the next night shift is Thursday's
    assert second == (local("2026-11-26 22:00"), local("2026-11-27 06:00"))


# -- reading the configuration -------------------------------------------------------

BASE = """
[[categories]]
code = "power"
zh = "电力"
en = "Power"
team = "maint"
[[categories.children]]
code = "outage"
zh = "停电"
en = "Outage"

[[areas]]
code = "east"
zh = "东区"
en = "East"
[[areas]]
code = "west"
zh = "西区"
en = "West"

[[teams]]
code = "maint"
name = "维修班"
members = ["zhang", "li"]

[[technicians]]
id = "zhang"
name = "张师傅"
phone = "+8613800000001"
[[technicians]]
id = "li"
name = "李师傅"
phone = "+8613800000002"

[[dispatchers]]
id = "wang"
name = "王调度"
phone = "+8613800000009"
"""


def test_defaults_leave_everyone_on_duty_and_calendar_time() -> None:
    d = load_text(BASE).dispatch
    assert d.duty == () and d.leave == () and d.max_open_jobs is None
    assert d.reminders == (50, 80)
    assert d.escalate == (Escalation("dispatcher", 100), Escalation("lead", 150))
    assert not d.of("power.outage").business_hours


FULL = """
[dispatch]
unclaimed_minutes = 20
max_open_jobs = 3
reminders = [80, 50, 50]
escalate = [{ to = "lead", at = 120 }, { to = "dispatcher", at = 100 }]
tick_seconds = 10
follow_up_rating = 3
not_fixed_keywords = ["还坏"]

[dispatch.business_hours]
days = ["mon", "tue", "wed", "thu", "fri", "sat"]
hours = ["09:00-12:00", "13:00-17:00"]

[[dispatch.raise]]
keywords = ["冒火", "Sparks"]
categories = ["power"]

[holidays]
dates = [2026-10-01, "2026-10-02"]
workdays = [2026-10-11]

[[duty]]
teams = ["maint"]
days = ["mon", "tue"]
hours = ["22:00-06:00"]
holidays = true

[[leave]]
technician = "li"
start = 2026-11-23
end = 2026-11-24
reason = "年假"
"""


def test_every_dispatch_key_is_read() -> None:
    text = BASE.replace(
        'members = ["zhang", "li"]', 'members = ["zhang", "li"]\nareas = ["east"]\nlead = "wang"'
    )
    text = text.replace(
        'en = "Outage"',
        'en = "Outage"\nbusiness_hours = true\narea_teams = { west = "maint" }\n'
        'escalate = [{ to = "dispatcher", at = 100 }]\n'
        "priority_limits = { urgent = { claim = 5, arrive = 20 } }",
    )
    config = load_text(text + FULL)
    d = config.dispatch
    assert (d.unclaimed_minutes, d.max_open_jobs, d.tick_seconds, d.follow_up_rating) == (
        20,
        3,
        10,
        3,
    )
    assert d.reminders == (50, 80)
    assert d.escalate == (Escalation("dispatcher", 100), Escalation("lead", 120))
    assert d.not_fixed_keywords == ("还坏",)
    assert d.business.days == frozenset(range(6))
    assert d.business.windows == (Window(540, 720), Window(780, 1020))
    [rule] = d.raise_rules
    assert rule.keywords == ("冒火", "sparks") and rule.priority is Priority.URGENT
    assert rule.categories == ("power",)
    assert d.holidays == {date(2026, 10, 1), date(2026, 10, 2)}
    assert d.workdays == {date(2026, 10, 11)}
    [shift] = d.duty
    assert (
        shift.teams == ("maint",) and shift.holidays and shift.week.windows == (Window(1320, 1800),)
    )
    [away] = d.leave
    # whole days, inclusive, in Asia/Shanghai
    assert away.start == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert away.end == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert d.team_areas == {"maint": ("east",)} and d.team_leads == {"maint": "wang"}
    leaf = d.of("power.outage")
    assert leaf.business_hours and leaf.area_teams == {"west": "maint"}
    assert leaf.escalate == (Escalation("dispatcher", 100),)
    urgent = leaf.priority_limits[Priority.URGENT]
    assert (urgent.claim, urgent.arrive, urgent.resolve) == (5, 20, 240)


BAD = [
    (
        "[dispatch]\nreminders = [50, 120]",
        "dispatch.reminders = [50, 120]: must be a list of percents",
    ),
    ('[dispatch]\nescalate = [{ to = "boss", at = 100 }]', "dispatch.escalate[0].to"),
    ('[dispatch]\nescalate = [{ to = "lead", at = 90 }]', "must be 100 or more"),
    ("[dispatch]\nmax_open_jobs = 0", "dispatch.max_open_jobs = 0"),
    ("[dispatch]\nhours = 3", "dispatch.hours = 3: unknown key"),
    ('[dispatch.business_hours]\ndays = ["monday"]', "dispatch.business_hours.days[0]"),
    ('[dispatch.business_hours]\nhours = ["8-18"]', 'hours[0] = "8-18": not a span of hours'),
    ("[[dispatch.raise]]\nkeywords = []", "must name at least one word"),
    ('[holidays]\ndates = ["10/01"]', 'holidays.dates[0] = "10/01": not a date'),
    ('[[duty]]\ntechnicians = ["nobody"]\nhours = ["08:00-18:00"]', "duty[0].technicians[0]"),
    ('[[duty]]\nteams = ["maint"]', "duty[0].hours"),
    ('[[leave]]\ntechnician = "li"\nstart = 2026-11-25\nend = 2026-11-23', "is not after start"),
    (
        '[[leave]]\ntechnician = "ghost"\nstart = 2026-11-25\nend = 2026-11-26',
        "leave[0].technician",
    ),
]


@pytest.mark.parametrize(("snippet", "message"), BAD, ids=[m for _, m in BAD])
def test_mistakes_are_refused_with_the_key_path(snippet: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(BASE + snippet)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'members = ["zhang", "li"]',
            'members = ["zhang", "li"]\nareas = ["north"]',
            "teams[maint].areas[0]",
        ),
        (
            'members = ["zhang", "li"]',
            'members = ["zhang", "li"]\nlead = "ghost"',
            "teams[maint].lead",
        ),
        ('en = "Outage"', 'en = "Outage"\narea_teams = { west = "ghosts" }', "area_teams.west"),
        ('en = "Outage"', 'en = "Outage"\narea_teams = { north = "maint" }', "area_teams.north"),
        (
            'en = "Outage"',
            'en = "Outage"\npriority_limits = { low = { claim = 500, arrive = 100 } }',
            "arrive (100) is less than claim (500)",
        ),
    ],
)
def test_team_and_category_keys_are_checked(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(BASE.replace(old, new))
    assert message in caught.value.message


def test_starter_and_default_load_with_their_dispatch_sections(tmp_path: Path) -> None:
    from config.loader import default_text, starter_text

    starter = load_text(starter_text()).dispatch
    assert starter.max_open_jobs == 8 and starter.raise_rules
    default = load_text(default_text()).dispatch
    assert any("冒火" in r.keywords for r in default.raise_rules)
