"""Which reminders, escalations, re-offers and auto-closes are due (tickets/timers.py),
and what firing them does through the store: events, outbox rows, the overdue mark that
stays after the job is done, the auto-close, and follow-up tasks after a bad rating."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType

import pytest
from conftest import NOW, draft
from dispatch_helpers import with_dispatch

from config.dispatch_config import Escalation
from config.model import Config
from tickets import dispatch_store, timers
from tickets.model import Action, Actor, Mode, Priority, Role, State, Ticket
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")
ALICE = Actor.reporter("web", "alice")


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def ticket(**kw: object) -> Ticket:
    values: dict[str, object] = {
        "number": "BX20261123-0001",
        "state": State.ASSIGNED,
        "category": "water.leak",  # high: claim 30, arrive 120, resolve 480
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
        "acknowledged_at": NOW,  # claimed: nothing to acknowledge (see tests/test_receipt.py)
        **kw,
    }
    return Ticket(**values)  # type: ignore[arg-type]


def summary(planned: list[timers.Timer]) -> list[tuple[str, str, int, float, tuple[str, ...]]]:
    return [
        (t.kind, t.limit, t.threshold, (t.at - NOW) / timedelta(minutes=1), t.to) for t in planned
    ]


@pytest.fixture
def led(config: Config) -> Config:
    return with_dispatch(config, team_leads=MappingProxyType({"maint": "wang"}))


def test_an_assigned_job_reminds_then_escalates_on_both_running_limits(led: Config) -> None:
    assert summary(timers.plan(ticket(), led)) == [
        ("remind", "arrive", 50, 60, ()),
        ("remind", "arrive", 80, 96, ()),
        ("escalate", "arrive", 100, 120, ("dispatcher",)),
        ("escalate", "arrive", 150, 180, ("lead",)),
        ("remind", "resolve", 50, 240, ()),
        ("remind", "resolve", 80, 384, ()),
        ("escalate", "resolve", 100, 480, ("dispatcher",)),
        ("escalate", "resolve", 150, 720, ("lead",)),
    ]


PLANS = [
    # the ticket's state and what it has coming (kind, limit, threshold, minutes)
    ({"state": State.NEW, "holder": None}, [("escalate", "claim", 100, 30)]),  # 30 = unclaimed
    (
        {"state": State.NEW, "holder": None, "priority": Priority.LOW},  # claim limit 240
        [("unclaimed", "claim", 30, 30), ("escalate", "claim", 100, 240)],
    ),
    (
        {"state": State.NEW, "holder": None, "mode": Mode.MANUAL},
        [("escalate", "claim", 100, 30)],
    ),
    (
        {"state": State.ON_SITE},
        [
            ("remind", "resolve", 50, 240),
            ("remind", "resolve", 80, 384),
            ("escalate", "resolve", 100, 480),
        ],
    ),
    ({"state": State.PAUSED, "paused_from": State.ON_SITE}, []),  # the clocks stand still
    (
        {"state": State.RESOLVED, "resolved_at": at(100)},
        [("auto_close", "confirm", 72, 100 + 72 * 60)],
    ),
    ({"state": State.CLOSED}, []),
    ({"state": State.CANCELLED, "holder": None}, []),
]


@pytest.mark.parametrize(("fields", "expected"), PLANS)
def test_what_each_state_has_coming(
    config: Config, fields: dict[str, object], expected: list[tuple[str, str, int, int]]
) -> None:
    planned = timers.plan(ticket(**fields), config)
    assert [(k, lim, th, m) for k, lim, th, m, _ in summary(planned)] == expected


def test_due_skips_reminders_a_later_stage_made_pointless(config: Config) -> None:
    planned = timers.plan(ticket(state=State.ON_SITE), config)
    keys = {t.kind + str(t.threshold): t.key for t in planned}
    assert [t.threshold for t in timers.due(planned, set(), at(250)).fire] == [50]
    late = timers.due(planned, {keys["remind50"]}, at(500))  # down from 250 to 500
    assert [(t.kind, t.threshold) for t in late.fire] == [("escalate", 100)]
    assert [t.threshold for t in late.skip] == [80]
    done = {keys["remind50"], keys["remind80"], keys["escalate100"]}
    assert timers.due(planned, done, at(10_000)) == timers.Due((), ())


def test_each_cycle_has_its_own_keys(config: Config) -> None:
    first = {t.key for t in timers.plan(ticket(), config)}
    reopened = {t.key for t in timers.plan(ticket(reopen_count=1), config)}
    assert first.isdisjoint(reopened)


def test_the_action_a_timer_takes(config: Config) -> None:
    remind, _, escalate, *_ = timers.plan(ticket(), config)
    assert timers.action_of(remind)[0] is Action.REMIND
    action, _, data = timers.action_of(escalate)
    assert action is Action.ESCALATE
    assert data["limit"] == "arrive" and data["percent"] == 100 and data["to"] == ["dispatcher"]
    closing = timers.plan(ticket(state=State.RESOLVED, resolved_at=NOW), config)[0]
    assert timers.action_of(closing)[0] is Action.CONFIRM


# -- through the store ------------------------------------------------------------------------


def bind(store: Store, person: str, chat: str, role: str = "technician") -> None:
    store.save_chat(replace(store.chat("telegram", chat), role=role, person=person), NOW)


def rows(store: Store, number: str, kind: str) -> list[str]:
    return [r.chat for r in store.notices_of(number) if r.kind == kind]


def test_late_work_is_marked_overdue_for_good(store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, at(45))  # claim limit 30
    store.apply(number, Action.SIGN_IN, ZHANG, at(100))  # arrive limit 120: in time
    store.apply(number, Action.RESOLVE, ZHANG, at(490), note="换阀门")  # resolve 480: late
    closed = store.apply(number, Action.CONFIRM, ALICE, at(500))
    assert closed.overdue == "claim,resolve"
    assert [t.number for t in store.all_tickets() if t.overdue] == [number]


def test_firing_writes_event_notices_and_the_mark_together(store: Store) -> None:
    bind(store, "zhang", "7001")
    bind(store, "wang", "9001", role="dispatcher")
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    fired = dispatch_store.fire_due(store, at(125))
    assert [(f.kind, f.limit, f.threshold, f.outcome) for f in fired] == [
        ("remind", "arrive", 50, "skipped"),
        ("remind", "arrive", 80, "skipped"),
        ("escalate", "arrive", 100, "fired"),
    ]
    assert store.get(number).overdue == "arrive"
    [event] = [e for e in store.timeline(number) if e.action is Action.ESCALATE]
    assert event.id == fired[-1].event_id and event.actor_role is Role.SYSTEM
    assert rows(store, number, "dispatcher.overdue") == ["9001"]
    assert dispatch_store.fire_due(store, at(125)) == []  # nothing twice


def test_an_unclaimed_job_is_offered_again_and_the_dispatchers_told(store: Store) -> None:
    bind(store, "wang", "9001", role="dispatcher")
    store.config = with_dispatch(store.config, unclaimed_minutes=10)
    number = store.create_ticket(draft(), NOW).number
    [fired] = dispatch_store.fire_due(store, at(10))
    assert (fired.kind, fired.outcome) == ("unclaimed", "fired")
    assert rows(store, number, "team.reoffer") == ["-100123"]
    [alert] = [r for r in store.notices_of(number) if r.kind == "dispatcher.unclaimed"]
    # its own team first, then every other team covering the area (all do here)
    assert alert.params["suggested"][:2] == ["李师傅", "张师傅"]
    assert len(alert.params["suggested"]) == 5
    # at the claim limit: overdue, offered once more
    dispatch_store.fire_due(store, at(30))
    assert rows(store, number, "team.reoffer") == ["-100123", "-100123"]
    assert rows(store, number, "dispatcher.overdue") == ["9001"]


def test_escalation_chain_reaches_the_lead_at_its_percent(store: Store) -> None:
    bind(store, "wang", "9001", role="dispatcher")
    bind(store, "sun", "7005")
    store.config = with_dispatch(
        store.config,
        team_leads=MappingProxyType({"maint": "sun"}),
        escalate=(Escalation("dispatcher", 100), Escalation("lead", 200)),
    )
    number = store.create_ticket(draft(), NOW).number
    dispatch_store.fire_due(store, at(30))
    assert rows(store, number, "lead.overdue") == []
    dispatch_store.fire_due(store, at(60))
    assert rows(store, number, "lead.overdue") == ["7005"]


def test_resolved_without_an_answer_is_closed_by_the_system(store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.apply(number, Action.SIGN_IN, ZHANG, at(10))
    store.apply(number, Action.RESOLVE, ZHANG, at(20), note="换阀门")
    assert dispatch_store.fire_due(store, at(20 + 72 * 60 - 1)) == []
    [fired] = dispatch_store.fire_due(store, at(20 + 72 * 60))
    assert fired.kind == "auto_close"
    closed = store.get(number)
    assert closed.state is State.CLOSED and closed.closed_at == at(20 + 72 * 60)
    kinds = [r.kind for r in store.notices_of(number)]
    assert "reporter.auto_closed" in kinds and "reporter.closed" not in kinds
    confirm = store.timeline(number)[-1]
    assert (confirm.action, confirm.actor_role, confirm.data["auto"]) == (
        Action.CONFIRM,
        Role.SYSTEM,
        True,
    )
    # the reporter may still rate it
    rated = store.apply(number, Action.RATE, ALICE, at(5000), data={"rating": 5})
    assert rated.rating == 5


def test_a_confirmation_in_time_cancels_the_auto_close(store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.apply(number, Action.SIGN_IN, ZHANG, at(10))
    store.apply(number, Action.RESOLVE, ZHANG, at(20), note="换阀门")
    store.apply(number, Action.CONFIRM, ALICE, at(30))
    assert dispatch_store.fire_due(store, at(100_000)) == []


@pytest.mark.parametrize(
    ("rating", "comment", "reason"),
    [
        (1, "", "low_rating"),
        (2, "太慢", "low_rating"),
        (4, "其实还是坏的，没修好", "not_fixed"),
        (3, "", None),
    ],
)
def test_a_bad_rating_opens_a_follow_up_that_the_dispatcher_records(
    store: Store, rating: int, comment: str, reason: str | None
) -> None:
    bind(store, "wang", "9001", role="dispatcher")
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.apply(number, Action.SIGN_IN, ZHANG, at(10))
    store.apply(number, Action.RESOLVE, ZHANG, at(20), note="换阀门")
    store.apply(number, Action.RATE, ALICE, at(30), note=comment, data={"rating": rating})
    tasks = dispatch_store.follow_ups(store)
    if reason is None:
        assert tasks == [] and rows(store, number, "dispatcher.follow_up") == []
        return
    [task] = tasks
    assert (task.number, task.reason, task.status) == (number, reason, "open")
    [notice] = [r for r in store.notices_of(number) if r.kind == "dispatcher.follow_up"]
    assert notice.chat == "9001" and notice.params["reason"] == reason
    store.apply(number, Action.FOLLOW_UP, WANG, at(90), note="已回访，报修人接受")
    [done] = dispatch_store.follow_ups(store, status="done")
    assert (done.outcome, done.done_by) == ("已回访，报修人接受", "wang")
    assert dispatch_store.follow_ups(store) == []


def test_a_priority_change_replans_the_timers(store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.set_priority(number, "urgent", WANG, at(1))
    pending = {
        (r["kind"], r["limit_name"], r["threshold"]): r["due_at"]
        for r in dispatch_store.timers_of(store, number)
        if r["fired_at"] is None
    }
    # urgent: arrive 60, resolve 240 minutes from acceptance
    assert pending[("escalate", "arrive", 100)] == "2026-11-23T09:00:00.000000+00:00"
    assert pending[("remind", "resolve", 50)] == "2026-11-23T10:00:00.000000+00:00"
