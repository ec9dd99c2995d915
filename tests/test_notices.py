"""Who is told what: one row per action, run through the real workflow, so a rule change
that forgets someone shows up here."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import NOW, make_ticket

from config.model import Config
from tickets.model import Action, Actor, Event, Mode, Role, State, Ticket
from tickets.notices import (
    BROADCAST,
    PERSONAL,
    Dispatchers,
    Person,
    Recipient,
    Reporter,
    Team,
    auto_candidates,
    mask_phone,
    notices_for,
)
from tickets.workflow import advance

ALICE = Actor.reporter("web", "alice")
ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")
SYSTEM = Actor.system()


def ticket(state: State = State.NEW, holder: str | None = None, **kw: Any) -> Ticket:
    return make_ticket(state=state, holder=holder, **kw)


R, ZH, LI = Reporter(), Person("zhang"), Person("li")
MAINT, DISP = Team("maint"), Dispatchers()

# (ticket before, action, actor, kwargs, expected {(recipient, kind)})
TABLE: list[tuple[Ticket, Action, Actor, dict[str, Any], set[tuple[Recipient, str]]]] = [
    # the claimer is not told of his own claim: the claim's reply is his job card
    (ticket(), Action.CLAIM, ZHANG, {}, {(R, "reporter.assigned")}),
    (
        ticket(),
        Action.ASSIGN,
        WANG,
        {"target": "zhang"},
        {(R, "reporter.assigned"), (ZH, "technician.assigned")},
    ),
    (
        ticket(State.ON_SITE, "zhang"),
        Action.TRANSFER,
        WANG,
        {"target": "li"},
        {(R, "reporter.assigned"), (LI, "technician.assigned"), (ZH, "technician.released")},
    ),
    (ticket(State.ASSIGNED, "zhang"), Action.SIGN_IN, ZHANG, {}, {(R, "reporter.on_site")}),
    (
        ticket(State.ON_SITE, "zhang"),
        Action.PAUSE,
        ZHANG,
        {"note": "等配件"},
        {(R, "reporter.paused")},
    ),
    (
        ticket(State.PAUSED, "zhang", paused_from=State.ON_SITE),
        Action.RESUME,
        ZHANG,
        {},
        {(R, "reporter.resumed")},
    ),
    (
        ticket(State.ON_SITE, "zhang"),
        Action.RESOLVE,
        ZHANG,
        {"note": "ok"},
        {(R, "reporter.resolved")},
    ),
    # The reporter's own confirm, rating, cancel, hurry: his dialogue reply tells him;
    # the technician who did the work hears the confirmation and the rating (issue 12.9).
    (
        ticket(State.RESOLVED, "zhang"),
        Action.CONFIRM,
        ALICE,
        {},
        {(ZH, "technician.confirmed")},
    ),
    (
        ticket(State.RESOLVED, "zhang"),
        Action.CONFIRM,
        SYSTEM,
        {},
        {(R, "reporter.closed"), (ZH, "technician.confirmed")},
    ),
    (
        ticket(State.RESOLVED, "zhang"),
        Action.RATE,
        ALICE,
        {"data": {"rating": 5}},
        {(ZH, "technician.rated")},
    ),
    (
        ticket(State.CLOSED, "zhang"),
        Action.RATE,
        ALICE,
        {"data": {"rating": 2}, "note": "慢"},
        {(ZH, "technician.rated")},
    ),
    (
        ticket(State.RESOLVED, "zhang"),
        Action.REOPEN,
        ALICE,
        {"note": "还在漏"},
        {(ZH, "technician.reopened"), (MAINT, "team.offer")},
    ),
    (
        ticket(State.RESOLVED, "zhang"),
        Action.REOPEN,
        WANG,
        {"note": "回访"},
        {(R, "reporter.reopened"), (ZH, "technician.reopened"), (MAINT, "team.offer")},
    ),
    (ticket(), Action.CANCEL, ALICE, {}, set()),
    (ticket(State.ASSIGNED, "zhang"), Action.CANCEL, ALICE, {}, {(ZH, "technician.cancelled")}),
    (
        ticket(State.ASSIGNED, "zhang"),
        Action.CANCEL,
        WANG,
        {"note": "重复"},
        {(R, "reporter.cancelled"), (ZH, "technician.cancelled")},
    ),
    (
        ticket(State.ASSIGNED, "zhang"),
        Action.RELEASE,
        ZHANG,
        {"note": "不会修"},
        {(R, "reporter.released"), (MAINT, "team.offer")},
    ),
    (
        ticket(State.ASSIGNED, "zhang", mode=Mode.MANUAL),
        Action.RELEASE,
        ZHANG,
        {"note": "不会修"},
        {(R, "reporter.released"), (DISP, "dispatcher.manual")},
    ),
    (ticket(State.ASSIGNED, "zhang"), Action.HURRY, ALICE, {}, {(ZH, "technician.hurried")}),
    (ticket(), Action.HURRY, ALICE, {}, {(DISP, "dispatcher.manual")}),
    (
        ticket(State.ON_SITE, "zhang"),
        Action.ADD_INFO,
        ALICE,
        {"note": "在厨房", "data": {"photos": ["k.jpg"]}},
        {(ZH, "technician.info_added")},
    ),
    (ticket(), Action.ADD_INFO, ALICE, {"note": "在厨房"}, set()),
    (ticket(), Action.MERGE, WANG, {"target": "BX20261123-0002"}, {(R, "reporter.merged")}),
]


@pytest.mark.parametrize(("before", "action", "actor", "kwargs", "expected"), TABLE)
def test_who_is_told(
    config: Config,
    before: Ticket,
    action: Action,
    actor: Actor,
    kwargs: dict[str, Any],
    expected: set[tuple[Recipient, str]],
) -> None:
    after, event = advance(before, action, actor, NOW, **kwargs)
    notices = notices_for(after, replace(event, id=7), config, before=before)
    assert {(n.recipient, n.kind) for n in notices} == expected
    assert len(notices) == len(expected)
    for notice in notices:
        assert notice.params["number"] == before.number
        assert notice.priority == (
            PERSONAL if isinstance(notice.recipient, Reporter | Person) else BROADCAST
        )


def accept(t: Ticket, by: Actor = WANG) -> Event:
    """The store's accept event; by default filed by a dispatcher on the reporter's behalf."""
    return Event(t.number, NOW, by.role, by.id, Action.ACCEPT, None, State.NEW)


@pytest.mark.parametrize(
    ("mode", "team", "expected"),
    [
        (Mode.CLAIM, "maint", {(R, "reporter.accepted"), (MAINT, "team.offer")}),
        (Mode.MANUAL, "power", {(R, "reporter.accepted"), (DISP, "dispatcher.manual")}),
        # The store assigns it at once; the assign event tells the technician.
        (Mode.AUTO, "net", {(R, "reporter.accepted")}),
        # Auto mode with nobody to assign to falls back to the dispatchers.
        (Mode.AUTO, "ghosts", {(R, "reporter.accepted"), (DISP, "dispatcher.manual")}),
    ],
)
def test_acceptance_by_mode(
    config: Config, mode: Mode, team: str, expected: set[tuple[Recipient, str]]
) -> None:
    t = ticket(mode=mode, team=team)
    assert {(n.recipient, n.kind) for n in notices_for(t, accept(t), config)} == expected


# (who filed it, expected {(recipient, kind)}) for a claim-mode ticket of web:alice
FILED_BY: list[tuple[Actor, set[tuple[Recipient, str]]]] = [
    # Her own dialogue: the intake reply is her acceptance, so no second message.
    (ALICE, {(MAINT, "team.offer")}),
    # Filed on her behalf: nothing else tells her, so she gets the notice.
    (WANG, {(R, "reporter.accepted"), (MAINT, "team.offer")}),
    (SYSTEM, {(R, "reporter.accepted"), (MAINT, "team.offer")}),
    (Actor.reporter("sms", "13812345678"), {(R, "reporter.accepted"), (MAINT, "team.offer")}),
]


@pytest.mark.parametrize(("by", "expected"), FILED_BY, ids=lambda v: getattr(v, "id", ""))
def test_acceptance_is_told_only_when_someone_else_filed_it(
    config: Config, by: Actor, expected: set[tuple[Recipient, str]]
) -> None:
    t = ticket()
    assert {(n.recipient, n.kind) for n in notices_for(t, accept(t, by), config)} == expected


def test_params_are_self_contained(config: Config) -> None:
    t = ticket(photos=("a.jpg",), arrive_due=NOW, latitude=31.2, longitude=121.5)
    notices = {n.kind: n.params for n in notices_for(t, accept(t), config)}
    assert notices["reporter.accepted"]["eta"] == "2026-11-23T08:00:00+00:00"
    offer = notices["team.offer"]
    assert offer["phone"] == offer["masked_phone"] == "138****5678"
    assert (offer["category"], offer["area"], offer["building"], offer["spot"]) == (
        "water.leak",
        "east",
        "b1",
        "302",
    )
    assert (offer["latitude"], offer["photos"], offer["priority"]) == (31.2, ["a.jpg"], "high")

    after, event = advance(t, Action.ASSIGN, WANG, NOW, target="zhang")
    by_kind = {n.kind: n.params for n in notices_for(after, event, config, before=t)}
    assert by_kind["reporter.assigned"]["technician_name"] == "张师傅"
    assert by_kind["reporter.assigned"]["technician_phone"] == "+8613800000001"
    assert by_kind["technician.assigned"]["phone"] == "+8613812345678"
    assert by_kind["technician.assigned"]["description"] == "卫生间水管漏水"


def test_auto_candidates_prefer_technicians_of_the_area(config: Config) -> None:
    zhao = replace(config.technicians[2], areas=("west",))
    qian = replace(config.technicians[3], areas=("east",))
    local = replace(
        config, technicians=(*config.technicians[:2], zhao, qian, config.technicians[4])
    )
    assert auto_candidates(ticket(team="net", area="west"), local) == ["zhao"]
    assert auto_candidates(ticket(team="net", area="north"), local) == ["qian", "zhao"]
    assert auto_candidates(ticket(team="nobody"), local) == []


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+8613812345678", "138****5678"), ("+14155550100", "141****0100"), ("+86123", "***")],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
    assert mask_phone(masked) == masked  # a renderer may mask again


def test_the_technician_hears_how_his_job_ended_in_his_chat(store: Any) -> None:
    """Issue 12 item 9 through the real store: the confirmation, the rating and a reopen
    are queued for the technician's bound chat."""
    from conftest import draft

    from tickets.rows import ChatRecord

    store.save_chat(ChatRecord("telegram", "z1", role="technician", person="zhang"), NOW)
    rated = store.create_ticket(draft(), NOW).number
    reopened = store.create_ticket(draft(chat="bob"), NOW).number
    for number in (rated, reopened):
        for action in (Action.CLAIM, Action.SIGN_IN, Action.RESOLVE):
            store.apply(number, action, ZHANG, NOW, note="ok")
    store.apply(rated, Action.CONFIRM, ALICE, NOW)
    store.apply(rated, Action.RATE, ALICE, NOW, data={"rating": 4}, note="快")
    store.apply(reopened, Action.REOPEN, Actor.reporter("web", "bob"), NOW, note="还在漏")
    told = {
        (n.number, n.kind)
        for number in (rated, reopened)
        for n in store.notices_of(number)
        if n.chat == "z1"
    }
    assert {
        (rated, "technician.confirmed"),
        (rated, "technician.rated"),
        (reopened, "technician.reopened"),
    } <= told
