"""The repeat rules (the telecom 112 rules) end to end: a resident reports again through
the engine and the store, and the table says what must happen — a hurry (holder told),
a hurry and a complaint, a reopen flagged as a repeat, a new ticket flagged as a repeat,
or a plain new ticket; suggested duplicates of other people's reports; and a merged
duplicate's reporter hearing the master's notices. Plus the pure ``tickets.repeats``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from conftest import NOW, make_ticket
from rules_support import bind, rendered, report, rows, set_locale

from bots.engine import Engine
from config.model import Config
from config.rules_config import RepeatRules
from conversation.i18n import catalog
from conversation.replies import Ask, text_of
from notify import render_rules
from notify.render import render_notice
from tickets.model import Action, Actor, Role, State, Ticket
from tickets.repeats import Hurry, Reopen, Repeat, distance_m, duplicates, judge, same_spot
from tickets.rows import OutboxRow
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")
ALICE = Actor.reporter("web", "alice")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def engine(store: Store, config: Config) -> Engine:
    bind(store, "web", "zhang-chat", "technician", "zhang", "zh_CN")
    bind(store, "web", "wang-chat", "dispatcher", "wang", "en")
    return Engine(store, config)


# -- pure rules --------------------------------------------------------------------------


def ticket(number: str = "BX1", **kw: Any) -> Ticket:
    return make_ticket(**{"number": number, "description": "漏水", **kw})


RULES = RepeatRules()

JUDGE = [
    ("nothing before", [], None),
    ("open 2 h", [ticket(created_at=NOW - 2 * HOUR)], Hurry("BX1", False, 2)),
    ("open 25 h", [ticket(created_at=NOW - 25 * HOUR)], Hurry("BX1", True, 25)),
    (
        "two open: the oldest counts",
        [ticket("BX2", created_at=NOW - HOUR), ticket("BX1", created_at=NOW - 30 * HOUR)],
        Hurry("BX1", True, 30),
    ),
    ("other spot", [ticket(spot="303")], None),
    ("same spot typed differently", [ticket(spot=" 30 2")], Hurry("BX1", False, 0)),
    ("other category", [ticket(category="net.broadband")], None),
    (
        "resolved a day ago",
        [ticket(state=State.RESOLVED, resolved_at=NOW - DAY)],
        Reopen("BX1", NOW - DAY),
    ),
    (
        "closed 2 days after the fix",
        [ticket(state=State.CLOSED, resolved_at=NOW - 2 * DAY)],
        Repeat("BX1", NOW - 2 * DAY),
    ),
    ("closed 4 days after the fix", [ticket(state=State.CLOSED, resolved_at=NOW - 4 * DAY)], None),
    ("cancelled", [ticket(state=State.CANCELLED)], None),
    ("merged away", [ticket(state=State.DUPLICATE, master="BX9")], None),
]


@pytest.mark.parametrize(("mine", "expected"), [r[1:] for r in JUDGE], ids=[r[0] for r in JUDGE])
def test_judge(mine: list[Ticket], expected: object) -> None:
    assert judge(mine, "water.leak", "302", NOW, RULES) == expected


def test_judge_follows_the_configured_windows() -> None:
    strict = RepeatRules(hurry_hours=1, repeat_days=1)
    assert judge([ticket(created_at=NOW - 2 * HOUR)], "water.leak", "302", NOW, strict) == Hurry(
        "BX1", True, 2
    )
    fixed = [ticket(state=State.CLOSED, resolved_at=NOW - 2 * DAY)]
    assert judge(fixed, "water.leak", "302", NOW, strict) is None
    assert judge(fixed, "water.leak", "302", NOW, RepeatRules(enabled=False)) is None


def test_same_spot_and_distance() -> None:
    assert same_spot("3楼 302", "3楼302") and not same_spot("302", "303")
    assert 100 < distance_m(31.2300, 121.4700, 31.2310, 121.4700) < 120
    assert distance_m(31.23, 121.47, 31.23, 121.47) == 0


BOB = {"reporter_chat": "bob", "number": "BX2"}
NEAR = {"building": "", "latitude": 31.2300, "longitude": 121.4700}
DUPLICATES = [
    ("same building, 30 min apart", {}, {"created_at": NOW + 30 * timedelta(minutes=1)}, True),
    ("same building, 3 h apart", {}, {"created_at": NOW + 3 * HOUR}, False),
    ("other building", {}, {"area": "west", "building": "b9"}, False),
    ("other category", {}, {"category": "net.broadband"}, False),
    ("same reporter", {}, {"reporter_chat": "alice"}, False),
    ("already done", {"state": State.RESOLVED}, {}, False),
    ("50 m apart", NEAR, {**NEAR, "latitude": 31.23045}, True),
    ("500 m apart", NEAR, {**NEAR, "latitude": 31.2345}, False),
]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [r[1:] for r in DUPLICATES],
    ids=[r[0] for r in DUPLICATES],
)
def test_duplicates(first: dict[str, Any], second: dict[str, Any], expected: bool) -> None:
    earlier = ticket(**first)
    later = ticket(**{**BOB, **second})
    assert duplicates(later, [earlier], RULES) == ([earlier] if expected else [])


# -- through the engine and the store ------------------------------------------------------


def _open(store: Store, number: str) -> None:
    store.apply(number, Action.CLAIM, ZHANG, NOW)


def _resolved(store: Store, number: str) -> None:
    _open(store, number)
    store.apply(number, Action.SIGN_IN, ZHANG, NOW)
    store.apply(number, Action.RESOLVE, ZHANG, NOW, note="换了阀门")


def _closed(store: Store, number: str) -> None:
    _resolved(store, number)
    store.apply(number, Action.CONFIRM, ALICE, NOW + HOUR)


def _cancelled(store: Store, number: str) -> None:
    store.apply(number, Action.CANCEL, ALICE, NOW)


# (name, what became of the first report, when the second comes, what must happen)
JOURNEYS: list[tuple[str, Callable[[Store, str], None], timedelta, str]] = [
    ("open, asked again within 24 h", _open, 2 * HOUR, "hurry"),
    ("open, asked again after 24 h", _open, 25 * HOUR, "complaint"),
    ("resolved, back the next day", _resolved, DAY, "reopen"),
    ("closed, back 2 days after the fix", _closed, 2 * DAY, "repeat"),
    ("closed, back 4 days after the fix", _closed, 4 * DAY, "new"),
    ("cancelled, reported again", _cancelled, HOUR, "new"),
]
SAID = {
    ("hurry", "zh_CN"): "已为您催单",
    ("hurry", "en"): "we have hurried it",
    ("complaint", "zh_CN"): "作为投诉",
    ("complaint", "en"): "as a complaint",
    ("reopen", "zh_CN"): "工单已重开并标记为重复障碍",
    ("reopen", "en"): "reopened and flagged as a repeat",
    ("repeat", "zh_CN"): "受理成功",
    ("repeat", "en"): "Report accepted",
    ("new", "zh_CN"): "受理成功",
    ("new", "en"): "Report accepted",
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize(
    ("before", "later", "expected"), [j[1:] for j in JOURNEYS], ids=[j[0] for j in JOURNEYS]
)
def test_a_repeat_report(
    engine: Engine,
    store: Store,
    config: Config,
    locale: str,
    before: Callable[[Store, str], None],
    later: timedelta,
    expected: str,
) -> None:
    set_locale(store, "web", "alice", locale)
    report(engine, "alice")
    (first,) = store.all_tickets()
    before(store, first.number)

    answer = report(engine, "alice", NOW + later)

    assert SAID[(expected, locale)] in answer, answer
    found = store.all_tickets()
    again = store.get(first.number)
    complaints = rows(store, "dispatcher.complaint", chat="wang-chat")
    repeats = rows(store, "dispatcher.repeat", chat="wang-chat")
    if expected in ("hurry", "complaint"):
        assert len(found) == 1 and first.number in answer
        assert again.hurry_count == 1
        # The holder is told; the dispatcher only when it has waited too long.
        assert rows(store, "technician.hurried", chat="zhang-chat")
        assert bool(complaints) == (expected == "complaint")
        assert (("complaint", "hurry1") in store.flags(first.number)) == (expected == "complaint")
    if expected == "complaint":
        text = rendered(complaints[0], config)
        assert "[Complaint · repair time]" in text and first.number in text and "25 h" in text
    if expected == "reopen":
        assert len(found) == 1 and again.state is State.NEW and again.reopen_count == 1
        event = store.timeline(first.number)[-1]
        assert event.action is Action.REOPEN and event.data["repeat"] == "quality"
        assert rows(store, "technician.reopened", chat="zhang-chat")
        assert "[Repeat · quality]" in rendered(repeats[0], config)
    if expected == "repeat":
        (new,) = [t for t in found if t.number != first.number]
        assert store.flags(new.number) == [("repeat", first.number)]
        text = rendered(repeats[0], config)
        assert new.number in text and first.number in text
    if expected in ("hurry", "complaint", "new"):
        assert not repeats
    if expected == "new":
        assert len(found) == 2 and all(store.flags(t.number) == [] for t in found)


def test_other_peoples_report_of_the_same_fault_is_suggested_as_a_duplicate(
    engine: Engine, store: Store, config: Config
) -> None:
    report(engine, "alice")
    report(engine, "bob", NOW + 20 * timedelta(minutes=1), spot="3楼走廊")
    alice, bob = sorted(store.all_tickets(), key=lambda t: t.number)
    assert store.flags(bob.number) == [("duplicate_of", alice.number)]
    (row,) = rows(store, "dispatcher.duplicates")
    assert row.chat == "wang-chat" and row.params["candidates"] == [alice.number]
    (card,) = render_notice(row, config)
    assert isinstance(card, Ask) and bob.number in card.text and alice.number in card.text
    assert f"d:merge:{bob.number}:{alice.number}" in [c.data for c in card.choices]


# -- merged duplicates follow their master ---------------------------------------------------


def test_a_merged_duplicates_reporter_gets_the_masters_notices(
    engine: Engine, store: Store, config: Config
) -> None:
    set_locale(store, "web", "bob", "en")
    report(engine, "alice")
    report(engine, "bob", NOW, spot="3楼走廊")
    master, dup = sorted(store.all_tickets(), key=lambda t: t.number)
    _open(store, master.number)
    assert rows(store, chat="bob") == []  # not merged yet: bob hears nothing of alice's ticket

    store.apply(dup.number, Action.MERGE, WANG, NOW, target=master.number)
    store.apply(master.number, Action.SIGN_IN, ZHANG, NOW + HOUR)
    store.apply(master.number, Action.RESOLVE, ZHANG, NOW + 2 * HOUR, note="换了阀门")
    store.apply(master.number, Action.CONFIRM, ALICE, NOW + 3 * HOUR)  # alice acts herself

    kinds = [r.kind for r in rows(store, chat="bob")]
    assert kinds == [
        "reporter.merged",
        "follower.reporter.on_site",
        "follower.reporter.resolved",
        "follower.reporter.closed",
    ]
    assert store.followers(master.number) == [dup.number]
    on_site, resolved, closed = rows(store, chat="bob")[1:]
    text = rendered(on_site, config)
    assert f"About ticket {master.number}, which your report {dup.number} was merged" in text
    assert "张师傅" in text
    assert "has been fixed: 换了阀门" in rendered(resolved, config)
    # The master's buttons (confirm, rate) belong to its reporter: none for bob.
    for row in (on_site, resolved, closed):
        assert not any(isinstance(r, Ask) for r in render_notice(row, config))
    # Alice's own notices are what they always were: none for what she did herself.
    assert "reporter.closed" not in [r.kind for r in rows(store, chat="alice")]


# -- catalogs and rendering of the rules' notices -----------------------------------------------


def test_rule_catalogs_have_the_same_keys_and_placeholders() -> None:
    for domain in ("repeats", "incidents", "outages", "dispatch"):
        zh = {k: v for k, v in catalog("zh_CN").items() if k.startswith(f"{domain}.")}
        en = {k: v for k, v in catalog("en").items() if k.startswith(f"{domain}.")}
        assert zh and zh.keys() == en.keys(), domain
        for key in zh:
            assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


PLACE = {"number": "BX20261123-0002", "category": "water.leak", "area": "east", "building": "b1"}
RULE_PARAMS: dict[str, dict[str, Any]] = {
    "dispatcher.complaint": {
        **PLACE,
        "open_hours": 25,
        "hurry_count": 2,
        "created_at": NOW.isoformat(),
    },
    "dispatcher.repeat": {**PLACE, "previous": "BX20261120-0001", "resolved_at": NOW.isoformat()},
    "dispatcher.duplicates": {
        **PLACE,
        "candidates": ["BX20261123-0001"],
        "master": "BX20261123-0001",
    },
    "dispatcher.incident_proposed": {
        "incident": 1,
        "category": "water.leak",
        "area": "east",
        "count": 3,
        "numbers": ["BX20261123-0002"],
        "window_minutes": 30,
    },
    "dispatcher.incident_opened": {
        "incident": 1,
        "category": "water",
        "area": "east",
        "count": 1,
        "numbers": ["BX20261123-0002"],
        "expected_at": NOW.isoformat(),
        "note": "总阀",
    },
    "reporter.incident_joined": {**PLACE, "incident": 1, "expected_at": NOW.isoformat()},
    "reporter.incident_resolved": {**PLACE, "incident": 1, "resolution": "已修复"},
    "technician.incident_resolved": {
        "incident": 1,
        "numbers": [PLACE["number"]],
        "resolution": "x",
    },
    "reporter.outage": {
        **PLACE,
        "outage": 1,
        "starts_at": NOW.isoformat(),
        "ends_at": NOW.isoformat(),
        "reason": "检修",
    },
    "follower.reporter.assigned": {
        **PLACE,
        "own": "BX20261123-0009",
        "technician_name": "张师傅",
        "technician_phone": "+8613800000001",
    },
    "follower.reporter.resolved": {**PLACE, "own": "BX20261123-0009", "resolution": "换阀门"},
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("kind", sorted(RULE_PARAMS))
def test_every_rule_notice_renders_in_both_languages(
    config: Config, kind: str, locale: str
) -> None:
    assert set(render_rules.KINDS) <= set(RULE_PARAMS)
    row = OutboxRow(
        1,
        "k",
        PLACE["number"],
        None,
        kind,
        "web",
        "x",
        locale,
        RULE_PARAMS[kind],
        1,
        "pending",
        0,
        NOW,
        NOW,
    )
    shown = "\n".join(text_of(r) for r in render_notice(row, config))
    generic = catalog(locale)["notices.generic"].format(number=PLACE["number"])
    assert PLACE["number"] in shown or "#1" in shown or "东区" in shown or "East" in shown
    assert "{" not in shown and generic not in shown, shown


def test_a_broken_rule_notice_falls_back_to_the_generic_text(config: Config) -> None:
    row = OutboxRow(
        1,
        "k",
        "BX1",
        None,
        "dispatcher.repeat",
        "web",
        "x",
        "en",
        {"reopened": object()},
        1,
        "pending",
        0,
        NOW,
        NOW,
    )
    assert render_rules.render(replace(row, kind="follower.nothing.like.this"), config)
    assert render_notice(replace(row, params=[]), config)  # type: ignore[arg-type]
