"""The ticket life: a table of allowed and refused actions, and properties over random
action sequences (hypothesis)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_ticket
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.errors import BaoxiuError, InvalidInput, InvalidTransition, NotAllowed
from tickets.model import Action, Actor, Event, Role, State, Ticket
from tickets.workflow import RULES, advance, allowed_actions, replay

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
REPORTER = Actor.reporter("web", "abc")
STRANGER = Actor.reporter("web", "zzz")
ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
LI = Actor(Role.TECHNICIAN, "li", "李师傅", frozenset({"maint"}))
OUTSIDER = Actor(Role.TECHNICIAN, "zhao", "赵师傅", frozenset({"other"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")
SYSTEM = Actor.system()


def ticket(state: State = State.NEW, holder: str | None = None, **kw: object) -> Ticket:
    return make_ticket(
        state=state,
        holder=holder,
        phone="+8613800000000",
        reporter_chat="abc",
        area="",
        building="",
        spot="",
        **kw,
    )


HELD = {"holder": "zhang"}

# (state, holder, action, actor, kwargs, expected new state or error type)
TABLE: list[
    tuple[State, str | None, Action, Actor, dict[str, object], State | type[BaoxiuError]]
] = [
    (State.NEW, None, Action.CLAIM, ZHANG, {}, State.ASSIGNED),
    (State.NEW, None, Action.CLAIM, OUTSIDER, {}, NotAllowed),
    (State.NEW, None, Action.CLAIM, REPORTER, {}, NotAllowed),
    (State.ASSIGNED, "zhang", Action.CLAIM, LI, {}, InvalidTransition),
    (State.NEW, None, Action.ASSIGN, WANG, {"target": "li"}, State.ASSIGNED),
    (State.NEW, None, Action.ASSIGN, WANG, {}, InvalidInput),
    (State.NEW, None, Action.ASSIGN, ZHANG, {"target": "li"}, NotAllowed),
    (State.ASSIGNED, "zhang", Action.SIGN_IN, ZHANG, {}, State.ON_SITE),
    (State.ASSIGNED, "zhang", Action.SIGN_IN, LI, {}, NotAllowed),
    (State.NEW, None, Action.SIGN_IN, ZHANG, {}, NotAllowed),
    (State.CANCELLED, None, Action.SIGN_IN, ZHANG, {}, InvalidTransition),
    (State.ON_SITE, "zhang", Action.PAUSE, ZHANG, {"note": "等配件"}, State.PAUSED),
    (State.ON_SITE, "zhang", Action.PAUSE, ZHANG, {}, InvalidInput),
    (State.ON_SITE, "zhang", Action.RESOLVE, ZHANG, {"note": "换了阀门"}, State.RESOLVED),
    (State.ASSIGNED, "zhang", Action.RESOLVE, ZHANG, {"note": "done"}, InvalidTransition),
    (State.ON_SITE, "zhang", Action.RESOLVE, LI, {"note": "done"}, NotAllowed),
    (State.RESOLVED, "zhang", Action.CONFIRM, REPORTER, {}, State.CLOSED),
    (State.RESOLVED, "zhang", Action.CONFIRM, STRANGER, {}, NotAllowed),
    (State.RESOLVED, "zhang", Action.RATE, REPORTER, {"data": {"rating": 5}}, State.CLOSED),
    (State.RESOLVED, "zhang", Action.RATE, REPORTER, {"data": {"rating": 6}}, InvalidInput),
    (State.RESOLVED, "zhang", Action.RATE, REPORTER, {"data": {"rating": True}}, InvalidInput),
    (State.CLOSED, "zhang", Action.RATE, REPORTER, {"data": {"rating": 4}}, State.CLOSED),
    (State.RESOLVED, "zhang", Action.REOPEN, REPORTER, {"note": "还在漏"}, State.NEW),
    (State.CLOSED, "zhang", Action.REOPEN, REPORTER, {}, InvalidTransition),
    (State.NEW, None, Action.CANCEL, REPORTER, {}, State.CANCELLED),
    (State.ASSIGNED, "zhang", Action.CANCEL, WANG, {}, State.CANCELLED),
    (State.ON_SITE, "zhang", Action.CANCEL, REPORTER, {}, InvalidTransition),
    (State.NEW, None, Action.CANCEL, STRANGER, {}, NotAllowed),
    (State.ASSIGNED, "zhang", Action.RELEASE, ZHANG, {"note": "不是我的片区"}, State.NEW),
    (State.ASSIGNED, "zhang", Action.RELEASE, ZHANG, {}, InvalidInput),
    (State.ASSIGNED, "zhang", Action.TRANSFER, WANG, {"target": "li"}, State.ASSIGNED),
    (State.ASSIGNED, "zhang", Action.TRANSFER, WANG, {"target": "zhang"}, InvalidInput),
    (State.ON_SITE, "zhang", Action.HURRY, REPORTER, {}, State.ON_SITE),
    (State.CLOSED, "zhang", Action.HURRY, REPORTER, {}, InvalidTransition),
    (State.NEW, None, Action.ADD_INFO, REPORTER, {"note": "在二楼"}, State.NEW),
    (State.NEW, None, Action.ADD_INFO, REPORTER, {}, InvalidInput),
    (State.NEW, None, Action.MERGE, WANG, {"target": "BX20261123-0002"}, State.DUPLICATE),
    (State.NEW, None, Action.MERGE, WANG, {"target": "BX20261123-0001"}, InvalidInput),
    (State.ASSIGNED, "zhang", Action.MERGE, WANG, {"target": "BX20261123-0002"}, InvalidTransition),
    (
        State.ON_SITE,
        "zhang",
        Action.PRIORITY,
        WANG,
        {"data": {"priority": "urgent"}},
        State.ON_SITE,
    ),
    (State.NEW, None, Action.PRIORITY, WANG, {"data": {"priority": "asap"}}, InvalidInput),
    (State.NEW, None, Action.PRIORITY, REPORTER, {"data": {"priority": "urgent"}}, NotAllowed),
    (State.ASSIGNED, "zhang", Action.REMIND, SYSTEM, {"data": {"percent": 50}}, State.ASSIGNED),
    (State.ASSIGNED, "zhang", Action.ESCALATE, WANG, {}, NotAllowed),
    (State.CLOSED, "zhang", Action.ESCALATE, SYSTEM, {}, InvalidTransition),
    (State.CLOSED, "zhang", Action.FOLLOW_UP, WANG, {"note": "已回访，满意"}, State.CLOSED),
    (State.CLOSED, "zhang", Action.FOLLOW_UP, WANG, {}, InvalidInput),
]


@pytest.mark.parametrize(("state", "holder", "action", "actor", "kwargs", "expected"), TABLE)
def test_transition_table(
    state: State,
    holder: str | None,
    action: Action,
    actor: Actor,
    kwargs: dict[str, object],
    expected: State | type[BaoxiuError],
) -> None:
    before = ticket(state, holder, rating=None)
    args = {
        "note": str(kwargs.get("note", "")),
        "data": kwargs.get("data"),
        "target": kwargs.get("target"),
    }
    if isinstance(expected, State):
        after, event = advance(before, action, actor, NOW, **args)  # type: ignore[arg-type]
        assert after.state is expected
        assert (event.from_state, event.to_state, event.action) == (state, expected, action)
        assert after.version == before.version + 1
    else:
        with pytest.raises(expected) as info:
            advance(before, action, actor, NOW, **args)  # type: ignore[arg-type]
        assert info.value.key.startswith("errors.")


def test_claim_sets_holder_and_reopen_keeps_number() -> None:
    t, _ = advance(ticket(), Action.CLAIM, ZHANG, NOW)
    assert t.holder == "zhang"
    t, _ = advance(t, Action.SIGN_IN, ZHANG, NOW, data={"distance_m": 42.5})
    assert t.distance_m == 42.5
    t, _ = advance(t, Action.RESOLVE, ZHANG, NOW, note="换了阀门", data={"photos": ["a.jpg"]})
    t, event = advance(t, Action.REOPEN, REPORTER, NOW, note="还在漏")
    assert (t.state, t.holder, t.number, t.reopen_count) == (State.NEW, None, "BX20261123-0001", 1)
    assert t.resolution_photos == () and event.note == "还在漏"


def test_pause_resumes_to_where_it_was() -> None:
    t = ticket(State.ON_SITE, "zhang")
    t, _ = advance(t, Action.PAUSE, ZHANG, NOW, note="等配件")
    assert t.pause_reason == "等配件"
    t, _ = advance(t, Action.RESUME, ZHANG, NOW)
    assert t.state is State.ON_SITE and t.pause_reason == ""


def test_already_rated_is_refused() -> None:
    t = ticket(State.CLOSED, "zhang", rating=5)
    with pytest.raises(InvalidTransition) as info:
        advance(t, Action.RATE, REPORTER, NOW, data={"rating": 1})
    assert info.value.key == "errors.already_rated"


def test_photo_limit_on_add_info() -> None:
    t = ticket(photos=("1", "2", "3"))
    advance(t, Action.ADD_INFO, REPORTER, NOW, data={"photos": ["4"]})
    with pytest.raises(InvalidInput):
        advance(t, Action.ADD_INFO, REPORTER, NOW, data={"photos": ["4", "5"]})


def test_allowed_actions_for_buttons() -> None:
    assert Action.CLAIM in allowed_actions(ticket(), ZHANG)
    assert Action.CLAIM not in allowed_actions(ticket(), OUTSIDER)
    held = allowed_actions(ticket(State.ON_SITE, "zhang"), ZHANG)
    assert {Action.RESOLVE, Action.PAUSE, Action.RELEASE} <= set(held)
    assert allowed_actions(ticket(State.ON_SITE, "zhang"), LI) == []


def test_state_diagram_names_every_state_and_action() -> None:
    text = (Path(__file__).parents[1] / "tickets" / "STATES.md").read_text(encoding="utf-8")
    words = set(re.findall(r"[a-z_]+", text))
    assert {s.value for s in State} <= words
    assert {a.value for a in Action} <= words


# --- properties ---------------------------------------------------------------

ACTORS = [REPORTER, STRANGER, ZHANG, LI, OUTSIDER, WANG, SYSTEM]
MOVES = st.tuples(
    st.sampled_from(list(RULES)),
    st.sampled_from(ACTORS),
    st.sampled_from(["", "原因"]),
    st.sampled_from([None, "zhang", "li", "BX20261123-0002"]),
    st.integers(min_value=0, max_value=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(MOVES, max_size=40))
def test_random_sequences_keep_the_ticket_sound(
    moves: list[tuple[Action, Actor, str, str | None, int]],
) -> None:
    start = ticket()
    current = start
    events: list[Event] = []
    at = NOW
    for action, actor, note, target, rating in moves:
        at += timedelta(minutes=1)
        before = current
        try:
            current, event = advance(
                current, action, actor, at, note=note, data={"rating": rating}, target=target
            )
        except (InvalidTransition, NotAllowed, InvalidInput):
            assert current == before  # refused: nothing changed
            continue
        events.append(event)
        # exactly one holder while someone works on it; nobody holds a job in the queue
        if current.state in {State.ASSIGNED, State.ON_SITE, State.PAUSED}:
            assert current.holder is not None
        if current.state in {State.NEW, State.DUPLICATE}:
            assert current.holder is None
        if before.state in {State.CANCELLED, State.DUPLICATE}:
            pytest.fail(f"{action} left final state {before.state}")
        if before.state is State.CLOSED:
            assert current.state is State.CLOSED  # only a late rating touches a closed ticket
        assert current.number == start.number
    assert replay(start, events) == current


@pytest.mark.parametrize(
    ("state", "actor", "data", "expected"),
    [
        (State.NEW, WANG, {"incident": 3}, State.RESOLVED),
        (State.ASSIGNED, SYSTEM, {"incident": 3}, State.RESOLVED),
        (State.PAUSED, WANG, {"incident": 3}, State.RESOLVED),
        (State.NEW, WANG, {}, NotAllowed),  # without an incident: the technician's job
        (State.RESOLVED, WANG, {"incident": 3}, InvalidTransition),
        (State.CLOSED, SYSTEM, {"incident": 3}, InvalidTransition),
        (State.ASSIGNED, ZHANG, {"incident": 3}, InvalidTransition),  # sign in first
        (State.NEW, REPORTER, {"incident": 3}, NotAllowed),
    ],
)
def test_an_incident_closing_resolves_from_any_open_state(
    state: State, actor: Actor, data: dict[str, int], expected: State | type[Exception]
) -> None:
    before = ticket(state, holder="zhang" if state is not State.NEW else None)
    if isinstance(expected, State):
        after, event = advance(before, Action.RESOLVE, actor, NOW, note="fixed", data=data)
        assert (after.state, after.resolution, after.paused_from) == (expected, "fixed", None)
        assert event.data == data and replay(before, [event]) == after
    else:
        with pytest.raises(expected):
            advance(before, Action.RESOLVE, actor, NOW, data=data)
    assert Action.RESOLVE not in allowed_actions(before, WANG)  # never a console button
