"""Time-limit arithmetic (tickets/sla.py): business hours across lunch, nights, weekends,
holidays and make-up days; paused time left out using the event log; limits per
category × priority; due times counted again after a priority change, resume, reopen.
Every moment is an argument: nothing sleeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from conftest import NOW, draft, make_config
from dispatch_helpers import local, week, with_dispatch
from hypothesis import given, settings
from hypothesis import strategies as st

from config.dispatch_config import CategoryDispatch, RaiseRule
from config.model import Config, TimeLimits
from tickets import sla
from tickets.model import Action, Actor, Event, Mode, Priority, Role, State, Ticket
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")


@pytest.fixture
def office(config: Config) -> Config:
    """Mon–Fri 08:30–12:00 and 13:30–17:30; Wed 25 Nov a holiday, Sun 29 Nov a make-up day;
    water.leak counts in business hours."""
    return with_dispatch(
        config,
        business=week("mon-fri", "08:30-12:00", "13:30-17:30"),
        holidays=frozenset({date(2026, 11, 25)}),
        workdays=frozenset({date(2026, 11, 29)}),
        categories=MappingProxyType({"water.leak": CategoryDispatch(business_hours=True)}),
    )


BUSINESS = [
    # start (local), counted minutes, due (local)
    ("2026-11-23 16:00", 30, "2026-11-23 16:30"),
    ("2026-11-23 17:00", 60, "2026-11-24 09:00"),  # overnight
    ("2026-11-24 11:30", 60, "2026-11-24 14:00"),  # across lunch
    ("2026-11-24 17:00", 60, "2026-11-26 09:00"),  # Wednesday is a holiday
    ("2026-11-27 17:20", 20, "2026-11-29 08:40"),  # Sunday is a make-up working day
    ("2026-11-28 10:00", 10, "2026-11-29 08:40"),  # from a Saturday
    ("2026-11-23 07:00", 10, "2026-11-23 08:40"),  # before opening
    ("2026-11-23 12:00", 1, "2026-11-23 13:31"),  # at the lunch break
    ("2026-11-23 08:30", 450, "2026-11-23 17:30"),  # one whole working day
    ("2026-11-23 08:30", 480, "2026-11-24 09:00"),
]


@pytest.mark.parametrize(("start", "minutes", "due"), BUSINESS)
def test_business_hours(office: Config, start: str, minutes: int, due: str) -> None:
    assert sla.add(local(start), minutes, office, business=True) == local(due)
    assert sla.elapsed(local(start), local(due), office, business=True) == timedelta(
        minutes=minutes
    )


def test_calendar_time_counts_everything(office: Config) -> None:
    assert sla.add(local("2026-11-24 23:00"), 120, office) == local("2026-11-25 01:00")


PAUSES = [
    # business?, start, pauses (from-to, None: still paused), minutes, due (None: unknown)
    (False, "16:00", [("16:10", "16:40")], 60, "2026-11-23 17:30"),
    (False, "16:00", [("16:10", "16:20"), ("16:30", "16:40")], 60, "2026-11-23 17:20"),
    (False, "16:00", [("17:30", "18:00")], 60, "2026-11-23 17:00"),  # after the deadline
    (False, "16:00", [("16:10", None)], 60, None),  # still paused: due unknown
    (False, "16:00", [("16:10", None)], 5, "2026-11-23 16:05"),  # due before the pause
    (True, "17:00", [("17:10", "2026-11-24 09:00")], 60, "2026-11-24 09:50"),
    (True, "08:30", [("12:00", "13:30")], 450, "2026-11-23 17:30"),  # over lunch: free
    (True, "08:30", [("11:00", "14:30")], 450, "2026-11-24 10:30"),
]


@pytest.mark.parametrize(("business", "start", "pauses", "minutes", "due"), PAUSES)
def test_paused_time_does_not_count(
    office: Config,
    business: bool,
    start: str,
    pauses: list[tuple[str, str | None]],
    minutes: int,
    due: str | None,
) -> None:
    def at(text: str) -> datetime:
        return local(text if " " in text else f"2026-11-23 {text}")

    spans = [(at(a), at(b) if b else None) for a, b in pauses]
    result = sla.add(at(start), minutes, office, business=business, pauses=spans)
    assert result == (local(due) if due else None)
    if result is not None:
        counted = sla.elapsed(at(start), result, office, business=business, pauses=spans)
        assert counted == timedelta(minutes=minutes)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 11, 1), max_value=datetime(2026, 12, 31)),
    minutes=st.integers(min_value=1, max_value=5000),
)
def test_elapsed_undoes_add(start: datetime, minutes: int) -> None:
    config = with_dispatch(
        make_config(Path("/nonexistent")),
        business=week("mon-fri", "08:30-12:00", "13:30-17:30"),
        holidays=frozenset({date(2026, 12, 2)}),
    )
    begin = start.replace(tzinfo=UTC)
    due = sla.add(begin, minutes, config, business=True)
    assert due is not None
    assert sla.elapsed(begin, due, config, business=True) == timedelta(minutes=minutes)


# -- limits per category × priority ---------------------------------------------------------


def test_limits_per_category_and_priority(config: Config) -> None:
    own = TimeLimits(5, 20, 100)
    tuned = with_dispatch(
        config,
        categories=MappingProxyType(
            {
                "water.leak": CategoryDispatch(
                    priority_limits=MappingProxyType({Priority.URGENT: own})
                )
            }
        ),
    )
    leak = tuned.category("water.leak")
    assert leak is not None and leak.priority is Priority.HIGH
    assert sla.limits_for(tuned, "water.leak", Priority.HIGH) == leak.limits  # its default
    assert sla.limits_for(tuned, "water.leak", Priority.URGENT) == own  # its own override
    assert sla.limits_for(tuned, "water.leak", Priority.LOW) == tuned.limits[Priority.LOW]


def test_keywords_raise_but_never_lower(config: Config) -> None:
    ruled = with_dispatch(
        config,
        raise_rules=(
            RaiseRule(("冒火", "sparks"), Priority.URGENT, ("power",)),
            RaiseRule(("漏",), Priority.HIGH),
        ),
    )
    assert sla.raised_priority("插座冒火了", "power.outage", Priority.NORMAL, ruled) == (
        Priority.URGENT,
        "冒火",
    )
    assert sla.raised_priority("The socket SPARKS", "power.outage", Priority.LOW, ruled) == (
        Priority.URGENT,
        "sparks",
    )
    assert (
        sla.raised_priority("插座冒火了", "water.leak", Priority.NORMAL, ruled) is None
    )  # not power
    assert (
        sla.raised_priority("一直在漏", "water.leak", Priority.URGENT, ruled) is None
    )  # never lower
    assert sla.raised_priority("一直在漏", "water.leak", Priority.LOW, ruled) == (
        Priority.HIGH,
        "漏",
    )


# -- a ticket's clock from its events ----------------------------------------------------


def _ticket(**kw: object) -> Ticket:
    values: dict[str, object] = {
        "number": "BX20261123-0001",
        "state": State.ASSIGNED,
        "category": "water.leak",
        "team": "maint",
        "priority": Priority.HIGH,
        "mode": Mode.CLAIM,
        "phone": "+8613812345678",
        "description": "漏水",
        "reporter_channel": "web",
        "reporter_chat": "alice",
        "reporter_locale": "zh_CN",
        "created_at": NOW,
        "updated_at": NOW,
        "holder": "zhang",
        **kw,
    }
    return Ticket(**values)  # type: ignore[arg-type]


def _event(action: Action, minutes: int, before: State, after: State) -> Event:
    return Event(
        "BX20261123-0001",
        NOW + timedelta(minutes=minutes),
        Role.TECHNICIAN,
        "zhang",
        action,
        before,
        after,
    )


def test_the_clock_reads_pauses_reopens_and_releases(config: Config) -> None:
    events = [
        _event(Action.ACCEPT, 0, State.NEW, State.NEW),
        _event(Action.CLAIM, 5, State.NEW, State.ASSIGNED),
        _event(Action.PAUSE, 10, State.ASSIGNED, State.PAUSED),
        _event(Action.RESUME, 40, State.PAUSED, State.ASSIGNED),
    ]
    c = sla.clock(_ticket(), config, events)
    assert c.pauses == ((NOW + timedelta(minutes=10), NOW + timedelta(minutes=40)),)
    # high: arrive 120 min, resolve 480 min from acceptance, plus the 30 paused minutes
    assert sla.moment(c, "arrive", 100, config) == NOW + timedelta(minutes=150)
    assert sla.moment(c, "resolve", 50, config) == NOW + timedelta(minutes=270)
    assert sla.used(c, "arrive", NOW + timedelta(minutes=90), config) == 50.0

    released = [*events, _event(Action.RELEASE, 60, State.ASSIGNED, State.NEW)]
    c = sla.clock(_ticket(state=State.NEW), config, released)
    assert c.claim_start == NOW + timedelta(minutes=60) and c.start == NOW

    reopened = [*released, _event(Action.REOPEN, 600, State.RESOLVED, State.NEW)]
    c = sla.clock(_ticket(state=State.NEW), config, reopened)
    assert c.start == c.claim_start == NOW + timedelta(minutes=600) and c.pauses == ()


def test_recompute_while_paused_shows_due_times_as_if_resumed_now(config: Config) -> None:
    events = [
        _event(Action.ACCEPT, 0, State.NEW, State.NEW),
        _event(Action.PAUSE, 10, State.ASSIGNED, State.PAUSED),
    ]
    paused = _ticket(state=State.PAUSED)
    shown = sla.recompute(paused, config, NOW + timedelta(minutes=70), events=events)
    assert shown.resolve_due == NOW + timedelta(minutes=480 + 60)


# -- through the store ------------------------------------------------------------------------


def test_pause_and_resume_push_the_stored_due_times_out(store: Store) -> None:
    ticket = store.create_ticket(draft(), NOW)
    store.apply(ticket.number, Action.CLAIM, ZHANG, NOW)
    store.apply(ticket.number, Action.PAUSE, ZHANG, NOW + timedelta(minutes=10), note="等配件")
    resumed = store.apply(ticket.number, Action.RESUME, ZHANG, NOW + timedelta(minutes=70))
    assert resumed.arrive_due == NOW + timedelta(minutes=120 + 60)
    assert resumed.resolve_due == NOW + timedelta(minutes=480 + 60)


def test_set_priority_counts_the_limits_again_from_acceptance(store: Store) -> None:
    ticket = store.create_ticket(draft(), NOW)  # water.leak, high: 30/120/480
    later = NOW + timedelta(minutes=10)
    raised = store.set_priority(ticket.number, "urgent", WANG, later, note="报修人说冒火")
    urgent = store.config.limits[Priority.URGENT]
    assert raised.priority is Priority.URGENT
    assert raised.claim_due == NOW + timedelta(minutes=urgent.claim)
    assert raised.resolve_due == NOW + timedelta(minutes=urgent.resolve)
    [*_, event] = store.timeline(ticket.number)
    assert (event.action, event.data["priority"], event.note) == (
        Action.PRIORITY,
        "urgent",
        "报修人说冒火",
    )


def test_a_report_with_a_danger_word_is_urgent_from_the_start(store: Store) -> None:
    store.config = with_dispatch(store.config, raise_rules=(RaiseRule(("冒火",), Priority.URGENT),))
    ticket = store.create_ticket(replace(draft(), description="插座冒火，有烧焦味"), NOW)
    assert ticket.priority is Priority.URGENT
    assert ticket.arrive_due == NOW + timedelta(minutes=store.config.limits[Priority.URGENT].arrive)
    [accept] = store.timeline(ticket.number)
    assert accept.data["priority"] == "urgent" and accept.data["raised_by"] == "冒火"
    # information added later raises it too (here: a normal one to urgent)
    normal = store.create_ticket(draft("net.broadband"), NOW)
    reporter = Actor.reporter("web", "alice")
    after = store.apply(normal.number, Action.ADD_INFO, reporter, NOW, note="路由器冒火了")
    assert after.priority is Priority.URGENT
    assert store.timeline(normal.number)[-1].data["raised_by"] == "冒火"


def test_business_hours_category_gets_business_due_times(store: Store, office: Config) -> None:
    store.config = office
    # Monday 17:00 local: high limits (30/120/480 business minutes)
    ticket = store.create_ticket(draft(), local("2026-11-23 17:00"))
    assert ticket.claim_due == local("2026-11-23 17:30")
    assert ticket.arrive_due == local("2026-11-24 10:00")  # 30 on Monday, 90 on Tuesday
    # 480 minutes: 30 on Monday, 450 on Tuesday (08:30–12:00, 13:30–17:30 is 450), Wed off
    assert ticket.resolve_due == local("2026-11-24 17:30")
