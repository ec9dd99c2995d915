"""Large-area incidents: K reports in T minutes proposed to the dispatcher (or opened
at once), opened from the proposal's button, new reporters told "known fault, being
handled, expected by …" and joined without a new job, and every linked reporter told
exactly once when it is closed. Plus the pure ``tickets.incidents``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from conftest import NOW, make_ticket
from rules_support import bind, rendered, report, rows, say, set_locale
from test_console import Client, client, csrf_of, login  # noqa: F401 (client: a fixture)

from bots.engine import Engine
from config.model import Config
from config.rules_config import IncidentRules
from conversation.events import Button
from notify.render import render_notice
from tickets.dispatch_store import fire_due, timers_of
from tickets.incidents import Incident, IncidentState, cluster, covering, covers
from tickets.model import Action, Actor, Role, State, Ticket
from tickets.store import Store

MINUTE = timedelta(minutes=1)
TECHNICIAN = Actor(Role.TECHNICIAN, "zhang", teams=frozenset({"maint"}))
RULES = IncidentRules()


@pytest.fixture
def engine(store: Store, config: Config) -> Engine:
    bind(store, "web", "wang-chat", "dispatcher", "wang", "en")
    return Engine(store, config)


# -- pure rules ------------------------------------------------------------------------------


def ticket(number: str, chat: str, minutes_ago: int = 0, **kw: Any) -> Ticket:
    at = NOW - minutes_ago * MINUTE
    return make_ticket(
        **{
            "number": number,
            "description": "漏水",
            "reporter_chat": chat,
            "created_at": at,
            "updated_at": at,
            **kw,
        }
    )


NEW = ticket("N", "carol")
CLUSTER = [
    ("three people within 30 min", [ticket("A", "alice", 20), ticket("B", "bob", 5)], 3),
    ("only two people", [ticket("A", "alice", 5)], 0),
    ("one of them too early", [ticket("A", "alice", 40), ticket("B", "bob", 5)], 0),
    ("one person twice", [ticket("A", "alice", 20), ticket("B", "alice", 5)], 0),
    ("other area", [ticket("A", "alice", 5), ticket("B", "bob", 5, area="west")], 0),
    ("other category", [ticket("A", "alice", 5), ticket("B", "bob", 5, category="x.y")], 0),
    ("one cancelled", [ticket("A", "alice", 5), ticket("B", "bob", 5, state=State.CANCELLED)], 0),
    (
        "one fixed already counts",
        [ticket("A", "alice", 5), ticket("B", "bob", 5, state=State.RESOLVED)],
        3,
    ),
]


@pytest.mark.parametrize(("recent", "size"), [c[1:] for c in CLUSTER], ids=[c[0] for c in CLUSTER])
def test_cluster(recent: list[Ticket], size: int) -> None:
    found = cluster(NEW, recent, NOW, RULES)
    assert len(found) == size
    if size:
        assert found[0].created_at == min(t.created_at for t in found)  # oldest first


def test_cluster_by_coordinates_without_an_area() -> None:
    here = {"area": "", "building": "", "latitude": 31.23, "longitude": 121.47}
    near = [ticket("A", "alice", 5, **here), ticket("B", "bob", 5, **{**here, "latitude": 31.232})]
    far = [ticket("A", "alice", 5, **here), ticket("B", "bob", 5, **{**here, "latitude": 31.26})]
    new = replace(NEW, **here)
    assert len(cluster(new, near, NOW, RULES)) == 3
    assert cluster(new, far, NOW, RULES) == []
    assert cluster(new, near, NOW, replace(RULES, enabled=False)) == []


def incident(id_: int = 1, **kw: Any) -> Incident:
    base = Incident(id_, IncidentState.OPEN, "water", "east", NOW, opened_at=NOW)
    return replace(base, **kw)


COVERS = [
    ("group covers its leaf", incident(), {"area": "east", "category": "water.leak"}, True),
    ("leaf covers itself", incident(category="water.leak"), {"category": "water.leak"}, True),
    ("other leaf", incident(category="water.drain"), {"category": "water.leak"}, False),
    ("other area", incident(), {"area": "west"}, False),
    ("circle, inside", incident(area="", latitude=31.23, longitude=121.47), {"area": ""}, True),
    ("circle, outside", incident(area="", latitude=31.30, longitude=121.47), {"area": ""}, False),
]


@pytest.mark.parametrize(
    ("found", "report", "expected"), [c[1:] for c in COVERS], ids=[c[0] for c in COVERS]
)
def test_covers(found: Incident, report: dict[str, Any], expected: bool) -> None:
    where = {"area": "east", "category": "water.leak", "latitude": 31.231, "longitude": 121.47}
    assert covers(found, **{**where, **report}, radius_m=500) is expected


def test_covering_takes_the_latest_open_one() -> None:
    older, newer = incident(1), incident(2, opened_at=NOW + MINUTE)
    closed = incident(3, state=IncidentState.CLOSED, opened_at=NOW + 2 * MINUTE)
    found = covering([older, newer, closed], area="east", category="water.leak", radius_m=1)
    assert found == newer


# -- through the engine and the store --------------------------------------------------------


def three_reports(engine: Engine) -> list[str]:
    for i, chat in enumerate(("alice", "bob", "carol")):
        report(engine, chat, NOW + i * 5 * MINUTE, spot=f"{i + 1}01")
    return sorted(t.number for t in engine.store.all_tickets())


def test_k_reports_in_t_minutes_propose_an_incident_once(
    engine: Engine, store: Store, config: Config
) -> None:
    report(engine, "alice")
    report(engine, "bob", NOW + 5 * MINUTE, spot="201")
    assert store.incidents() == [] and rows(store, "dispatcher.incident_proposed") == []
    report(engine, "carol", NOW + 10 * MINUTE, spot="301")
    report(engine, "dave", NOW + 15 * MINUTE, spot="401")  # already proposed: not again

    (found,) = store.incidents()
    assert found.state is IncidentState.PROPOSED and found.area == "east"
    (row,) = rows(store, "dispatcher.incident_proposed")
    (card,) = render_notice(row, config)
    assert "[Large-area fault?] 3 reports of Water / Leak in East within 30 min" in card.text
    assert [c.data for c in getattr(card, "choices", ())] == [f"d:iopen:{found.id}"]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_open_join_and_close_tell_each_linked_reporter_exactly_once(
    engine: Engine, store: Store, config: Config, locale: str
) -> None:
    bind(store, "web", "wang-chat", "dispatcher", "wang", locale)
    for chat in ("alice", "bob", "carol", "dave"):
        set_locale(store, "web", chat, locale)
    numbers = three_reports(engine)
    (proposal,) = store.incidents()
    later = NOW + 20 * MINUTE

    opened = say(engine, "web", "wang-chat", Button(f"d:iopen:{proposal.id}"), later)
    assert {"zh_CN": "故障 #1 已开启", "en": "Incident #1 is open"}[locale] in opened
    assert all(n in opened for n in numbers)  # the open jobs, to merge if they are one repair
    joined = rows(store, "reporter.incident_joined")
    assert sorted(r.chat for r in joined) == ["alice", "bob", "carol"]

    # A new resident is told as soon as the category and the area are known...
    say(engine, "web", "dave", "/report", later)
    say(engine, "web", "dave", Button("i:cat:water"), later)
    told = say(engine, "web", "dave", Button("i:area:east"), later)
    eta = {"zh_CN": "预计 11-23 20:20 前修复", "en": "expected to be fixed by 11-23 20:20"}
    assert {"zh_CN": "已知故障", "en": "Known fault"}[locale] in told
    assert eta[locale] in told
    # ...and a report confirmed there joins the incident: no new job.
    answer = report(engine, "dave", later + MINUTE, spot="501")
    assert {"zh_CN": "已并入该故障", "en": "has been added to it"}[locale] in answer
    again = report(engine, "dave", later + 2 * MINUTE, spot="502")  # asks twice: linked once
    assert "#1" in again
    assert sorted(t.number for t in store.all_tickets()) == numbers
    assert len(store.linked(proposal.id)) == 4

    closed = say(engine, "web", "wang-chat", "/incident close 1 总阀已换", later + 3 * MINUTE)
    assert {"zh_CN": "已通知 4 位", "en": "4 linked resident(s)"}[locale] in closed
    refused = say(engine, "web", "wang-chat", "/incident close 1", later + 4 * MINUTE)
    assert {"zh_CN": "不在处理中", "en": "is not open"}[locale] in refused

    # The three jobs are resolved by the closing: their reporters hear it once, from that
    # event (with the buttons of a resolution); dave, linked without a job, from the rule.
    assert {store.get(n).state for n in numbers} == {State.RESOLVED}
    (resolved,) = rows(store, "reporter.incident_resolved")
    assert resolved.chat == "dave"
    text = rendered(resolved, config)
    assert {"zh_CN": "东区的水 / 漏水故障已修复", "en": "Water / Leak in East has been fixed"}[
        locale
    ] in text
    assert "总阀已换" in text
    for chat in ("alice", "bob", "carol"):
        (told,) = [
            r
            for r in store.query("SELECT kind FROM outbox WHERE chat = ?", [chat])
            if r["kind"].startswith("reporter.") and "resolved" in r["kind"]
        ]
        assert told["kind"] == "reporter.resolved"
    (first,) = rows(store, "reporter.resolved", chat="alice")
    text = rendered(first, config)
    assert {"zh_CN": "大面积故障 #1 已修复", "en": "large-area fault #1 behind"}[locale] in text
    assert "总阀已换" in text
    # After it is closed, a report of the same fault is a new job again.
    assert "#1" not in report(engine, "erin", later + 5 * MINUTE, spot="601")
    assert len(store.all_tickets()) == 4


def test_auto_open_opens_at_once_and_tells_the_dispatchers(store: Store, config: Config) -> None:
    auto = replace(config, incidents=IncidentRules(auto_open=True, eta_minutes=60))
    store.config = auto
    bind(store, "web", "wang-chat", "dispatcher", "wang", "zh_CN")
    engine = Engine(store, auto)
    three_reports(engine)

    (found,) = store.incidents()
    assert found.state is IncidentState.OPEN
    assert found.expected_at == NOW + 10 * MINUTE + timedelta(minutes=60)
    (row,) = rows(store, "dispatcher.incident_opened")
    assert "【大面积故障】故障 #1 已开启" in rendered(row, auto)
    assert len(rows(store, "reporter.incident_joined")) == 3
    assert rows(store, "dispatcher.incident_proposed") == []


def test_a_ticket_filed_outside_the_dialogue_while_an_incident_is_open_is_linked(
    engine: Engine, store: Store
) -> None:
    say(engine, "web", "wang-chat", "/incident open east water 20:00", NOW)
    from conftest import draft

    filed = store.create_ticket(draft(chat="zoe"), NOW + MINUTE)
    (linked,) = store.linked(1)
    assert linked.number == filed.number and linked.chat == "zoe"
    assert [r.chat for r in rows(store, "reporter.incident_joined")] == ["zoe"]


def test_disabled_incidents_propose_nothing(store: Store, config: Config) -> None:
    off = replace(config, incidents=IncidentRules(enabled=False))
    store.config = off
    three_reports(Engine(store, off))
    assert store.incidents() == []


def test_closing_an_incident_resolves_its_linked_jobs_and_stops_their_timers(
    engine: Engine, store: Store, config: Config
) -> None:
    """Before the fix the linked jobs stayed ``new`` and went on escalating after the
    incident was closed; now the closing resolves each through the workflow (timers
    replanned: only the confirmation window is left) and each reporter can still say
    "not fixed"."""
    numbers = three_reports(engine)
    (proposal,) = store.incidents()
    later = NOW + 20 * MINUTE
    say(engine, "web", "wang-chat", Button(f"d:iopen:{proposal.id}"), later)
    held = numbers[0]
    store.apply(held, Action.CLAIM, TECHNICIAN, later)
    bind(store, "web", "zhang-chat", "technician", "zhang", "en")

    say(engine, "web", "wang-chat", "/incident close 1 feeder replaced", later + MINUTE)
    for number in numbers:
        ticket = store.get(number)
        assert ticket.state is State.RESOLVED and ticket.resolution == "feeder replaced"
        last = store.timeline(number)[-1]
        assert (last.action, last.actor_id, last.data) == (
            Action.RESOLVE,
            "wang",
            {"incident": 1},
        )
        pending = [t for t in timers_of(store, number) if t["fired_at"] is None]
        assert [t["kind"] for t in pending] == ["auto_close"]
    (card,) = rows(store, "technician.incident_resolved")
    assert card.chat == "zhang-chat" and held in rendered(card, config)

    # A day later nothing escalates; the confirmation window closes them as usual.
    fired = fire_due(store, later + timedelta(hours=24))
    assert fired == []
    assert rows(store, "dispatcher.overdue") == []

    # Each reporter can still say it is not fixed: back in the queue, same number.
    (alice,) = [n for n in numbers if store.get(n).reporter_chat == "alice"]
    button = Button(f"r:reopen:{alice}")
    say(engine, "web", "alice", button, later + 2 * MINUTE)
    say(engine, "web", "alice", "still dripping", later + 3 * MINUTE)
    assert store.get(alice).state is State.NEW and store.get(alice).reopen_count == 1


def test_closing_a_proposal_or_again_resolves_nothing(engine: Engine, store: Store) -> None:
    numbers = three_reports(engine)
    say(engine, "web", "wang-chat", "/incident close 1", NOW + 20 * MINUTE)
    assert {store.get(n).state for n in numbers} == {State.NEW}


async def test_closing_in_the_console_resolves_the_linked_jobs_as_the_staff_member(
    client: Client,  # noqa: F811
    store: Store,
) -> None:
    from conftest import draft

    numbers = [store.create_ticket(draft("power.outage", chat=c), NOW).number for c in "ab"]
    await login(client)
    token = await csrf_of(client, "/console/incidents")
    for form in (
        {"kind": "incident.open", "area": "east", "category": "power"},
        {"kind": "incident.close", "id": "1", "note": "变电站已恢复"},
    ):
        answer = await client.post("/console/incidents", data={"csrf": token, **form})
        assert answer.status == 200 and 'class="error"' not in await answer.text()
    for number in numbers:
        ticket = store.get(number)
        assert (ticket.state, ticket.resolution) == (State.RESOLVED, "变电站已恢复")
        last = store.timeline(number)[-1]
        assert (last.action, last.actor_id) == (Action.RESOLVE, "wang")
    assert len(rows(store, "reporter.resolved")) == 2
    assert rows(store, "reporter.incident_resolved") == []
