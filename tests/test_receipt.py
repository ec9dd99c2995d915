"""Receipt of an assigned job (接单确认): a job assigned or transferred to a technician
(not claimed by him) must be acknowledged within its claim limit — a button in chat, a
click in the console — or he is reminded, then it goes to the next candidate and the
dispatchers are told. The timers with time as an argument (pure), the chat as a dialogue
table, and the whole round through a real store, the scheduler's ``fire_due`` and the
console over HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from conftest import NOW, draft, make_ticket
from rules_support import bind, rendered, rows, say
from test_console import Client, client, csrf_of, login  # noqa: F401 (client: a fixture)

from bots.engine import Engine
from config.flow_config import FlowSettings
from config.model import Config
from conversation.events import Button
from tickets import dispatch_store, timers
from tickets.model import Action, Actor, Event, Mode, Priority, Role, State, Ticket
from tickets.store import Store

WANG = Actor(Role.DISPATCHER, "wang", "王调度")
ZHAO = Actor(Role.TECHNICIAN, "zhao", "赵师傅", frozenset({"net"}))


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def assigned(minutes: float = 10, **kw: object) -> tuple[Ticket, list[Event]]:
    """Zhao's broadband job, assigned by the dispatcher ``minutes`` after filing (claim 30)."""
    accepted = make_ticket(category="net.broadband", team="net", mode=Mode.AUTO, **kw)
    accept = Event(accepted.number, NOW, Role.REPORTER, "web:alice", Action.ACCEPT, None, State.NEW)
    given = Event(
        accepted.number,
        at(minutes),
        Role.DISPATCHER,
        "wang",
        Action.ASSIGN,
        State.NEW,
        State.ASSIGNED,
        data={"target": "zhao"},
    )
    ticket = replace(accepted, state=State.ASSIGNED, holder="zhao", priority=Priority.NORMAL)
    return ticket, [accept, given]


def receipt(planned: list[timers.Timer]) -> list[tuple[str, int, float, str, tuple[str, ...]]]:
    return [
        (t.kind, t.threshold, (t.at - NOW) / timedelta(minutes=1), t.cycle, t.to)
        for t in planned
        if t.limit == timers.RECEIPT
    ]


# -- the timers, pure ---------------------------------------------------------------------


def test_an_assigned_job_must_be_acknowledged_within_the_claim_limit(config: Config) -> None:
    ticket, events = assigned(10)
    assert receipt(timers.plan(ticket, config, events)) == [
        ("remind", 50, 25.0, "r1", ()),  # half of the 30 minutes, counted from the assignment
        ("escalate", 100, 40.0, "r1", ("dispatcher",)),
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"acknowledged_at": at(12)},  # acknowledged (or claimed, or signed in)
        {"state": State.ON_SITE, "acknowledged_at": at(20)},
        {"holder": None, "state": State.NEW},
    ],
)
def test_nothing_to_acknowledge(config: Config, change: dict[str, object]) -> None:
    ticket, events = assigned(10)
    assert receipt(timers.plan(replace(ticket, **change), config, events)) == []


def test_switched_off_there_is_no_receipt_clock(config: Config) -> None:
    ticket, events = assigned(10)
    off = replace(config, flow=FlowSettings(receipt=False))
    assert receipt(timers.plan(ticket, off, events)) == []


def test_a_transfer_starts_a_new_cycle_from_its_own_time(config: Config) -> None:
    ticket, events = assigned(10)
    moved = Event(
        ticket.number, at(40), Role.SYSTEM, "system", Action.TRANSFER, State.ASSIGNED,
        State.ASSIGNED, data={"target": "qian", "receipt": "missed"},
    )  # fmt: skip
    planned = timers.plan(replace(ticket, holder="qian"), config, [*events, moved])
    assert receipt(planned) == [
        ("remind", 50, 55.0, "r2", ()),
        ("escalate", 100, 70.0, "r2", ("dispatcher",)),
    ]


def test_due_with_time_as_an_argument(config: Config) -> None:
    ticket, events = assigned(10)
    planned = [t for t in timers.plan(ticket, config, events) if t.limit == timers.RECEIPT]
    assert timers.due(planned, set(), at(24)).fire == ()
    (remind,) = timers.due(planned, set(), at(25)).fire
    assert timers.action_of(remind)[0] is Action.REMIND
    # After downtime both are due: the reminder is pointless next to the deadline.
    late = timers.due(planned, set(), at(41))
    assert [t.kind for t in late.fire] == ["escalate"] and [t.kind for t in late.skip] == ["remind"]
    action, _, data = timers.action_of(late.fire[0])
    assert (action, data["limit"], data["percent"]) == (Action.ESCALATE, "receipt", 100)


# -- through the store and the scheduler's fire_due -------------------------------------------


def fired(store: Store, minutes: float) -> list[tuple[str, str, str]]:
    done = dispatch_store.fire_due(store, at(minutes))
    return [
        (f.kind, f.limit, f.outcome)
        for f in done
        if f.outcome != "skipped" and f.limit == timers.RECEIPT
    ]


def test_unacknowledged_it_is_reminded_then_handed_on_and_the_dispatchers_told(
    store: Store,
) -> None:
    bind(store, "web", "wang-chat", "dispatcher", "wang", "zh_CN")
    for person in ("zhao", "qian"):
        bind(store, "web", f"{person}-chat", "technician", person, "zh_CN")
    ticket = store.create_ticket(draft("net.broadband"), NOW)  # auto mode: assigned at once
    first = ticket.holder
    assert ticket.state is State.ASSIGNED and ticket.acknowledged_at is None
    (card,) = rows(store, "technician.assigned", chat=f"{first}-chat")
    assert f"t:ack:{ticket.number}" in [c.data for c in _choices(card, store.config)]

    assert fired(store, 14) == []
    assert fired(store, 15) == [("remind", "receipt", "fired")]
    (reminder,) = rows(store, "technician.reminder", chat=f"{first}-chat")
    text = rendered(reminder, store.config)
    assert "【待接单】" in text and "接单" in text
    assert f"t:ack:{ticket.number}" in [c.data for c in _choices(reminder, store.config)]

    assert fired(store, 30) == [("escalate", "receipt", "fired")]
    after = store.get(ticket.number)
    second = after.holder
    assert second in {"zhao", "qian"} - {first} and after.acknowledged_at is None
    last = store.timeline(ticket.number)[-1]
    assert (last.action, last.actor_id, last.data["receipt"], last.data["from"]) == (
        Action.TRANSFER,
        "system",
        "missed",
        first,
    )
    (alert,) = rows(store, "dispatcher.overdue", chat="wang-chat")
    assert "确认接单" in rendered(alert, store.config)
    assert rows(store, "technician.assigned", chat=f"{second}-chat")
    assert rows(store, "technician.released", chat=f"{first}-chat")
    assert after.overdue == ""  # not a broken service limit: the claim was in time

    # The second one lets it pass too: nobody else is left, it stays; told again.
    assert fired(store, 45) == [("remind", "receipt", "fired")]
    assert fired(store, 60) == [("escalate", "receipt", "fired")]
    assert store.get(ticket.number).holder == second
    assert len(rows(store, "dispatcher.overdue", chat="wang-chat")) == 2
    assert fired(store, 600) == []


def test_acknowledged_in_time_nothing_fires(store: Store) -> None:
    ticket = store.create_ticket(draft("net.broadband"), NOW)
    holder = Actor(Role.TECHNICIAN, ticket.holder or "", teams=frozenset({"net"}))
    store.apply(ticket.number, Action.ACKNOWLEDGE, holder, at(5))
    assert store.get(ticket.number).acknowledged_at == at(5)
    assert [f for f in dispatch_store.fire_due(store, at(31)) if f.limit == "receipt"] == []
    assert store.get(ticket.number).holder == ticket.holder


def test_a_manual_assignment_with_nobody_else_stays_and_alerts(store: Store) -> None:
    number = store.create_ticket(draft("power.outage"), NOW).number  # manual: team power (sun)
    store.apply(number, Action.ASSIGN, WANG, at(5), target="sun")
    assert fired(store, 35) == [("escalate", "receipt", "fired")]  # 20 (remind) skipped
    assert store.get(number).holder == "sun"
    assert [e.action for e in store.timeline(number)][-1] is Action.ESCALATE


def _choices(row: object, config: Config) -> list[object]:
    from conversation.replies import Ask
    from notify.render import render_notice

    return [c for r in render_notice(row, config) if isinstance(r, Ask) for c in r.choices]  # type: ignore[arg-type]


# -- the chat: a dialogue table --------------------------------------------------------------


@pytest.fixture
def engine(store: Store, config: Config) -> Engine:
    for person in ("zhao", "qian"):
        bind(store, "web", f"{person}-chat", "technician", person, "zh_CN")
    return Engine(store, config)


def test_acknowledging_in_chat(engine: Engine, store: Store) -> None:
    number = store.create_ticket(draft("power.outage"), NOW).number
    store.apply(number, Action.ASSIGN, WANG, NOW, target="zhao")
    table: list[tuple[str, Button | str, str | tuple[str, ...]]] = [
        ("zhao-chat", f"/status {number}", ("接单", "签到")),
        ("qian-chat", Button(f"t:ack:{number}"), "不在您名下"),  # not his job
        ("zhao-chat", Button(f"t:ack:{number}"), f"已确认接单：工单 {number}"),
        ("zhao-chat", Button(f"t:ack:{number}"), f"工单 {number} 已确认接单"),
    ]
    for chat, said, expected in table:
        answer = say(engine, "web", chat, said, at(1))
        for part in (expected,) if isinstance(expected, str) else expected:
            assert part in answer, (said, answer)
    ticket = store.get(number)
    assert ticket.acknowledged_at == at(1)
    # The card no longer offers it.
    assert "接单\n" not in say(engine, "web", "zhao-chat", f"/status {number}", at(2)) + "\n"


# -- the console: one click on the ticket page ---------------------------------------------


async def test_the_dispatcher_acknowledges_on_the_technicians_word(
    client: Client,  # noqa: F811
    store: Store,
) -> None:
    number = store.create_ticket(draft("power.outage"), NOW).number
    store.apply(number, Action.ASSIGN, WANG, NOW, target="sun")
    await login(client)
    token = await csrf_of(client, f"/console/ticket/{number}")
    page = await (await client.get(f"/console/ticket/{number}")).text()
    assert 'data-action="acknowledge"' in page
    answer = await client.post(
        f"/console/ticket/{number}/act", data={"csrf": token, "action": "acknowledge"}
    )
    assert answer.status == 200
    last = store.timeline(number)[-1]
    assert (last.action, last.actor_id, last.to_state) == (
        Action.ACKNOWLEDGE,
        "wang",
        State.ASSIGNED,
    )
    pending = [t for t in dispatch_store.timers_of(store, number) if t["fired_at"] is None]
    assert all(t["limit_name"] != "receipt" for t in pending)
    again = await client.post(
        f"/console/ticket/{number}/act", data={"csrf": token, "action": "acknowledge"}
    )
    assert again.status == 403  # no longer offered


# -- upgrading ---------------------------------------------------------------------------


def test_jobs_held_before_the_upgrade_count_as_acknowledged(config: Config) -> None:
    """A database from before ``flow_0001_receipt``: its held jobs must not be handed on
    the moment the new version starts."""
    import sqlite3

    path = config.database
    with Store(path, config) as store:
        held = store.create_ticket(draft("net.broadband"), NOW)  # auto: assigned, unacknowledged
        waiting = store.create_ticket(draft("power.outage"), NOW)  # manual: nobody holds it
    conn = sqlite3.connect(path)
    with conn:  # as the previous version left it
        conn.execute("ALTER TABLE tickets DROP COLUMN acknowledged_at")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'flow_0001_receipt'")
    conn.close()
    with Store(path, config) as store:
        assert store.get(held.number).acknowledged_at == store.get(held.number).updated_at
        assert store.get(waiting.number).acknowledged_at is None
