"""The server's scheduler loop (bots/scheduler.py) with a fake clock: reminders and
escalations reach the outbox at the right moments, a restart in the middle neither
loses nor repeats one, a crash inside a firing rolls it back to be fired once later,
and the application runs the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import NOW, draft
from dispatch_helpers import with_dispatch

from bots.app import build_app
from bots.scheduler import SCHEDULER, Scheduler
from config.model import Config
from tickets import dispatch_store
from tickets.model import Action, Actor, Role
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> Clock:
        self.now = NOW + timedelta(minutes=minutes)
        return self


@pytest.fixture
def led(config: Config) -> Config:
    # maint's lead is sun; the dispatcher is wang
    return with_dispatch(config, team_leads=MappingProxyType({"maint": "sun"}))


def bind(store: Store, person: str, chat: str, role: str = "technician") -> None:
    store.save_chat(replace(store.chat("web", chat), role=role, person=person), NOW)


def open_store(config: Config) -> Store:
    store = Store(config.database, config)
    return store


def told(store: Store) -> list[tuple[str, str, Any]]:
    """(kind, chat, percent) of the dispatch notices queued so far, in order."""
    kinds = ("technician.reminder", "dispatcher.overdue", "lead.overdue")
    rows = [store.outbox_row(r["id"]) for r in store.query("SELECT id FROM outbox ORDER BY id")]
    return [
        (r.kind, r.chat, r.params.get("percent")) for r in rows if r is not None and r.kind in kinds
    ]


def claimed_job(store: Store) -> str:
    for person, chat, role in (
        ("zhang", "t-zhang", "technician"),
        ("wang", "d-wang", "dispatcher"),
        ("sun", "t-sun", "technician"),
    ):
        bind(store, person, chat, role)
    number = store.create_ticket(draft(), NOW).number  # high: arrive 120, resolve 480
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    return number


EXPECTED = [
    # minutes after acceptance → what reaches the outbox at that tick
    (59, []),
    (60, [("technician.reminder", "t-zhang", 50)]),
    (61, []),
    (96, [("technician.reminder", "t-zhang", 80)]),
    (120, [("dispatcher.overdue", "d-wang", 100)]),
    (180, [("lead.overdue", "t-sun", 150)]),
    (240, [("technician.reminder", "t-zhang", 50)]),  # the resolve limit's half
    (1000, [("dispatcher.overdue", "d-wang", 100), ("lead.overdue", "t-sun", 150)]),
]


def test_a_fake_clock_drives_reminders_and_escalations_through_the_outbox(led: Config) -> None:
    with open_store(led) as store:
        claimed_job(store)
        clock = Clock(NOW)
        scheduler = Scheduler(store, led, clock=clock)
        seen = 0
        for minutes, expected in EXPECTED:
            scheduler.clock = clock.at(minutes)
            scheduler.run_once()
            now_told = told(store)
            assert now_told[seen:] == expected, f"at +{minutes} min"
            seen = len(now_told)


@pytest.mark.parametrize("restart_at", [60, 97, 121, 250])
def test_a_restart_in_the_middle_neither_loses_nor_repeats(led: Config, restart_at: int) -> None:
    ticks = [30, 60, 70, 96, 100, 120, 150, 180, 240, 384, 480, 720]
    with open_store(led) as store:
        claimed_job(store)
    # one run without a restart, for reference
    reference = replace(led, database=led.database.with_name("reference.db"))
    with open_store(reference) as store:
        claimed_job(store)
        scheduler = Scheduler(store, reference, clock=Clock(NOW))
        for minutes in ticks:
            scheduler.clock = Clock(NOW).at(minutes)
            scheduler.run_once()
        expected = told(store)

    store = open_store(led)
    scheduler = Scheduler(store, led, clock=Clock(NOW))
    for minutes in ticks:
        if minutes == restart_at or (restart_at not in ticks and minutes > restart_at):
            store.close()  # the process stops; a new one opens the same file
            store = open_store(led)
            scheduler = Scheduler(store, led, clock=Clock(NOW))
            restart_at = -1
        scheduler.clock = Clock(NOW).at(minutes)
        scheduler.run_once()
    assert told(store) == expected
    assert len(expected) == 8  # 2 + 1 + 1 per limit
    store.close()


def test_a_crash_while_firing_rolls_back_and_fires_once_later(
    led: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(led) as store:
        number = claimed_job(store)
        scheduler = Scheduler(store, led, clock=Clock(NOW).at(60))
        real_apply: Callable[..., Any] = store.apply

        def crash(*args: Any, **kw: Any) -> Any:
            real_apply(*args, **kw)  # the event and outbox row are written …
            raise RuntimeError("power cut")  # … and lost with the transaction

        monkeypatch.setattr(store, "apply", crash)
        with pytest.raises(RuntimeError):
            scheduler.run_once()
        monkeypatch.setattr(store, "apply", real_apply)
        assert told(store) == []
        assert [e.action for e in store.timeline(number)] == [Action.ACCEPT, Action.CLAIM]
        scheduler.run_once()
        scheduler.run_once()
        assert told(store) == [("technician.reminder", "t-zhang", 50)]
        pending = [r for r in dispatch_store.timers_of(store, number) if r["fired_at"]]
        assert [(r["kind"], r["threshold"], r["outcome"]) for r in pending] == [
            ("remind", 50, "fired")
        ]


async def test_the_loop_ticks_wakes_delivery_and_stops(led: Config) -> None:
    with open_store(led) as store:
        claimed_job(store)
        woken: list[int] = []
        scheduler = Scheduler(store, led, clock=Clock(NOW).at(60), on_fired=lambda: woken.append(1))
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stop, interval=0.01))
        for _ in range(200):
            if scheduler.ticks >= 3:
                break
            await asyncio.sleep(0.01)  # yields to the loop; the clock is the fake one
        stop.set()
        await asyncio.wait_for(task, 5)
        assert scheduler.ticks >= 3
        assert woken == [1]  # only the tick that fired something woke the worker
        assert told(store) == [("technician.reminder", "t-zhang", 50)]


async def test_the_application_runs_one_scheduler(config: Config, store: Store) -> None:
    app = build_app(config, store=store)
    async with TestClient(TestServer(app, host="127.0.0.1")):
        scheduler = app[SCHEDULER]
        assert scheduler.store is store
        for _ in range(200):
            if scheduler.ticks:
                break
            await asyncio.sleep(0.01)
        assert scheduler.ticks >= 1  # it ran at start-up, to catch up after downtime


def test_tickets_filed_before_timers_existed_get_theirs(led: Config) -> None:
    with open_store(led) as store:
        number = claimed_job(store)
        with store.transaction():
            store.db.execute("DELETE FROM timers")  # as if filed by an older version
        scheduler = Scheduler(store, led, clock=Clock(NOW).at(60))
        scheduler.run_once()
        assert told(store) == [("technician.reminder", "t-zhang", 50)]
        assert len(dispatch_store.timers_of(store, number)) == 8
