"""The store on a real SQLite file: numbers, atomic changes, races between processes'
connections, queries, chats, the outbox and platform-update dedupe."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import NOW, draft

from config.model import Config
from tickets import migrations, notice_rows
from tickets.errors import BaoxiuError, InvalidInput, InvalidTransition, NotAllowed, TicketNotFound
from tickets.model import Action, Actor, Event, Mode, Role, State
from tickets.notice_rows import FANOUT_CHAT
from tickets.rows import ticket_row
from tickets.store import ChatRecord, Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
LI = Actor(Role.TECHNICIAN, "li", "李师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")
ALICE = Actor.reporter("web", "alice")
LATER = NOW + timedelta(minutes=5)


def count(store: Store, table: str) -> int:
    return int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def outbox(store: Store, number: str) -> set[tuple[str, str, str]]:
    return {(r.kind, r.channel, r.chat) for r in store.notices_of(number)}


def bind(store: Store, person: str, chat: str, role: str = "technician", **kw: Any) -> None:
    store.save_chat(ChatRecord("telegram", chat, role=role, person=person, **kw), NOW)


# -- numbers -----------------------------------------------------------------------------


def test_numbers_run_per_day_in_the_configured_time_zone(store: Store) -> None:
    # Asia/Shanghai is UTC+8: 15:59 UTC is still the 23rd there, 16:00 UTC the 24th.
    moments = [
        datetime(2026, 11, 23, 15, 58, tzinfo=UTC),
        datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 1, 0, tzinfo=timezone(timedelta(hours=8))),  # 23rd 17:00 UTC
        datetime(2026, 11, 24, 16, 0, tzinfo=UTC),
    ]
    numbers = [store.create_ticket(draft(), at).number for at in moments]
    assert numbers == [
        "BX20261123-0001",
        "BX20261123-0002",
        "BX20261124-0001",
        "BX20261124-0002",
        "BX20261125-0001",
    ]


def test_a_number_is_never_given_twice_even_after_its_row_is_deleted(store: Store) -> None:
    first = store.create_ticket(draft(), NOW).number
    store.db.execute("DELETE FROM tickets WHERE number = ?", [first])
    second = store.create_ticket(draft(), NOW).number
    assert (first, second) == ("BX20261123-0001", "BX20261123-0002")


def test_a_second_store_on_the_same_file_continues_the_sequence(
    store: Store, config: Config
) -> None:
    store.create_ticket(draft(), NOW)
    with Store(config.database, config) as other:
        assert other.create_ticket(draft(), NOW).number == "BX20261123-0002"


# -- creating ----------------------------------------------------------------------------


def test_create_writes_ticket_accept_event_and_offers_in_one_go(store: Store) -> None:
    bind(store, "zhang", "7001")
    bind(store, "wang", "9001", role="dispatcher")
    ticket = store.create_ticket(draft(photos=("a.jpg",), latitude=31.2, longitude=121.5), NOW)

    assert ticket.state is State.NEW and ticket.version == 1
    assert (ticket.team, ticket.mode) == ("maint", Mode.CLAIM)
    assert ticket.claim_due == NOW + timedelta(minutes=30)
    assert ticket.arrive_due == NOW + timedelta(minutes=120)
    assert ticket.resolve_due == NOW + timedelta(minutes=480)
    assert store.ticket(ticket.number) == ticket

    [accept] = store.timeline(ticket.number)
    assert (accept.action, accept.actor_role, accept.actor_id) == (
        Action.ACCEPT,
        Role.REPORTER,
        "web:alice",
    )
    assert (accept.from_state, accept.to_state) == (None, State.NEW)

    # The team's group and its members' fan-out row; li has no chat, the dispatcher has
    # nothing to do with a claim-mode ticket, and alice filed it herself: her dialogue
    # reply is her acceptance.
    assert outbox(store, ticket.number) == {
        ("team.offer", "telegram", "-100123"),
        ("team.offer", "telegram", FANOUT_CHAT),
    }
    # Delivery fans it out to the bound member.
    assert notice_rows.expand(store, "telegram", NOW) == []
    assert {(kind, chat) for kind, _, chat in outbox(store, ticket.number)} >= {
        ("team.offer", "-100123"),
        ("team.offer", "7001"),
    }
    offers = [r for r in store.notices_of(ticket.number) if r.chat != FANOUT_CHAT]
    assert {r.chat for r in offers} == {"-100123", "7001"}
    assert all(r.params["phone"] == "138****5678" for r in offers)
    assert all("+8613812345678" not in str(r.params) for r in offers)
    assert all(r.key == f"{accept.id}:team.offer:telegram:{r.chat}" for r in offers)
    assert {r.priority for r in offers} == {2}


def test_create_saves_the_phone_as_the_chats_last_phone(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", dialogue='{"flow": "intake"}', locale="en"), NOW)
    store.create_ticket(draft(phone="+8613700000000"), LATER)
    assert store.chat("web", "alice") == ChatRecord(
        "web", "alice", dialogue='{"flow": "intake"}', locale="en", last_phone="+8613700000000"
    )


def test_a_ticket_filed_on_the_reporters_behalf_tells_the_reporter(store: Store) -> None:
    ticket = store.create_ticket(draft(), NOW, actor=WANG)
    [accept] = store.timeline(ticket.number)
    assert (accept.action, accept.actor_role, accept.actor_id) == (
        Action.ACCEPT,
        Role.DISPATCHER,
        "wang",
    )
    [accepted] = [r for r in store.notices_of(ticket.number) if r.kind == "reporter.accepted"]
    assert (accepted.channel, accepted.chat, accepted.priority) == ("web", "alice", 1)
    assert accepted.params["eta"] == "2026-11-23T10:00:00+00:00"
    assert accepted.key == f"{accept.id}:reporter.accepted:web:alice"


def test_reporter_notices_follow_the_chats_current_language(store: Store) -> None:
    store.save_chat(ChatRecord("web", "alice", locale="en"), NOW)
    ticket = store.create_ticket(draft(), NOW, actor=WANG)
    [accepted] = [r for r in store.notices_of(ticket.number) if r.kind == "reporter.accepted"]
    assert accepted.locale == "en"


@pytest.mark.parametrize(
    ("change", "error", "key"),
    [
        ({"category": "water.nope"}, InvalidInput, "errors.unknown_category"),
        ({"photos": ("1", "2", "3", "4", "5")}, InvalidInput, "errors.too_many_photos"),
    ],
)
def test_create_refuses_bad_drafts_and_writes_nothing(
    store: Store, change: dict[str, Any], error: type[BaoxiuError], key: str
) -> None:
    with pytest.raises(error) as caught:
        store.create_ticket(replace(draft(), **change), NOW)
    assert caught.value.key == key
    assert [count(store, t) for t in ("tickets", "events", "outbox", "day_seq")] == [0, 0, 0, 0]


def test_auto_mode_assigns_the_least_busy_member_ties_by_id(store: Store) -> None:
    bind(store, "qian", "7004")
    holders = [store.create_ticket(draft("net.broadband"), NOW).holder for _ in range(3)]
    assert holders == ["qian", "zhao", "qian"]

    first = store.ticket("BX20261123-0001")
    assert first is not None and first.state is State.ASSIGNED and first.version == 2
    assert [(e.action, e.actor_role) for e in store.timeline(first.number)] == [
        (Action.ACCEPT, Role.REPORTER),
        (Action.ASSIGN, Role.SYSTEM),
    ]
    assert outbox(store, first.number) == {
        ("reporter.assigned", "web", "alice"),
        ("technician.assigned", "telegram", "7004"),
    }
    [assigned] = [r for r in store.notices_of(first.number) if r.kind == "reporter.assigned"]
    assert assigned.params["technician_name"] == "钱师傅"
    assert assigned.params["technician_phone"] == "+8613800000004"


def test_auto_mode_counts_only_open_jobs(store: Store) -> None:
    qian = Actor(Role.TECHNICIAN, "qian", "钱师傅", frozenset({"net"}))
    first = store.create_ticket(draft("net.broadband"), NOW)
    assert first.holder == "qian"
    # zhao has waited longer (never had a job), so the tie of two empty hands goes to him
    assert store.create_ticket(draft("net.broadband"), NOW).holder == "zhao"
    store.apply(first.number, Action.SIGN_IN, qian, LATER)
    store.apply(first.number, Action.RESOLVE, qian, LATER, note="换了光猫")
    assert store.create_ticket(draft("net.broadband"), LATER).holder == "qian"


def test_manual_mode_puts_the_ticket_before_the_dispatchers(store: Store) -> None:
    bind(store, "wang", "9001", role="dispatcher", locale="en")
    ticket = store.create_ticket(draft("power.outage"), NOW)
    assert ticket.holder is None and ticket.state is State.NEW
    rows = {(r.kind, r.chat, r.locale) for r in store.notices_of(ticket.number)}
    assert rows == {("dispatcher.manual", "9001", "en")}


# -- applying ----------------------------------------------------------------------------


def test_claim_writes_one_event_and_the_right_notices(store: Store) -> None:
    bind(store, "zhang", "7001")
    number = store.create_ticket(draft(), NOW).number
    before = count(store, "outbox")

    ticket = store.apply(number, Action.CLAIM, ZHANG, LATER)

    assert (ticket.state, ticket.holder, ticket.version) == (State.ASSIGNED, "zhang", 2)
    assert store.ticket(number) == ticket
    events = store.timeline(number)
    assert [e.action for e in events] == [Action.ACCEPT, Action.CLAIM]
    claim = events[-1]
    assert (claim.actor_id, claim.from_state, claim.to_state, claim.at) == (
        "zhang",
        State.NEW,
        State.ASSIGNED,
        LATER,
    )
    new_rows = [r for r in store.notices_of(number) if r.event_id == claim.id]
    assert count(store, "outbox") == before + len(new_rows)
    # the claimer's job card is the claim's reply, not a notice
    assert {(r.kind, r.chat) for r in new_rows} == {("reporter.assigned", "alice")}


def test_an_assignment_sends_the_holder_his_job_card(store: Store) -> None:
    bind(store, "zhang", "7001")
    number = store.create_ticket(draft(), NOW).number

    store.apply(number, Action.ASSIGN, WANG, LATER, target="zhang")

    [card] = [r for r in store.notices_of(number) if r.kind == "technician.assigned"]
    assert card.chat == "7001"
    assert card.params["phone"] == "+8613812345678"  # the holder sees the full number
    assert card.params["description"] == "卫生间水管漏水"


@pytest.mark.parametrize(
    ("action", "actor", "kwargs", "error", "key"),
    [
        (Action.SIGN_IN, ZHANG, {}, NotAllowed, "errors.not_holder"),
        (Action.CONFIRM, ALICE, {}, InvalidTransition, "errors.invalid_transition"),
        (Action.ASSIGN, WANG, {"target": "nobody"}, InvalidInput, "errors.unknown_technician"),
        (
            Action.MERGE,
            WANG,
            {"target": "BX20261123-0099"},
            TicketNotFound,
            "errors.ticket_not_found",
        ),
        (
            Action.MERGE,
            WANG,
            {"target": "BX20261123-0002"},
            InvalidInput,
            "errors.master_is_duplicate",
        ),
        (Action.MERGE, WANG, {"target": "BX20261123-0001"}, InvalidInput, "errors.same_ticket"),
    ],
)
def test_a_refused_action_writes_nothing(
    store: Store,
    action: Action,
    actor: Actor,
    kwargs: dict[str, Any],
    error: type[BaoxiuError],
    key: str,
) -> None:
    number = store.create_ticket(draft(), NOW).number
    dup = store.create_ticket(draft(), NOW).number
    master = store.create_ticket(draft(), NOW).number
    store.apply(dup, Action.MERGE, WANG, NOW, target=master)
    snapshot = [count(store, t) for t in ("events", "outbox")]
    ticket = store.get(number)

    with pytest.raises(error) as caught:
        store.apply(number, action, actor, LATER, **kwargs)

    assert caught.value.key == key
    assert store.get(number) == ticket
    assert [count(store, t) for t in ("events", "outbox")] == snapshot


def test_a_failure_after_the_update_rolls_back_the_ticket_and_its_event(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = store.create_ticket(draft(), NOW).number
    ticket = store.get(number)

    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("tickets.store.notices_for", broken)
    with pytest.raises(RuntimeError):
        store.apply(number, Action.CLAIM, ZHANG, LATER)
    assert store.get(number) == ticket
    assert [e.action for e in store.timeline(number)] == [Action.ACCEPT]


def test_a_refused_nested_action_rolls_back_alone(store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    with store.transaction():
        store.save_chat(ChatRecord("web", "alice", dialogue='{"flow": "followup"}'), LATER)
        with pytest.raises(NotAllowed):
            store.apply(number, Action.SIGN_IN, ZHANG, LATER)
        store.apply(number, Action.HURRY, ALICE, LATER)
    assert store.chat("web", "alice").dialogue == '{"flow": "followup"}'
    assert [e.action for e in store.timeline(number)] == [Action.ACCEPT, Action.HURRY]
    assert store.get(number).hurry_count == 1


def test_an_error_in_the_outer_transaction_undoes_everything(store: Store) -> None:
    with pytest.raises(KeyError), store.transaction():
        store.create_ticket(draft(), NOW)
        raise KeyError("engine bug")
    assert [count(store, t) for t in ("tickets", "events", "outbox", "day_seq")] == [0, 0, 0, 0]


def test_unknown_ticket(store: Store) -> None:
    with pytest.raises(TicketNotFound) as caught:
        store.apply("BX20990101-0001", Action.HURRY, ALICE, NOW)
    assert caught.value.params == {"number": "BX20990101-0001"}
    assert store.ticket("BX20990101-0001") is None


def test_two_connections_racing_to_claim_leave_exactly_one_holder(config: Config) -> None:
    with Store(config.database, config) as setup:
        number = setup.create_ticket(draft(), NOW).number
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def claim(actor: Actor) -> None:
        # Each thread has its own Store (its own connection), as two processes would.
        with Store(config.database, config) as mine:
            start.wait()
            try:
                outcomes[actor.id] = mine.apply(number, Action.CLAIM, actor, LATER).holder
            except BaoxiuError as exc:
                outcomes[actor.id] = exc

    threads = [threading.Thread(target=claim, args=(a,)) for a in (ZHANG, LI)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    winners = [v for v in outcomes.values() if isinstance(v, str)]
    losers = [v for v in outcomes.values() if isinstance(v, BaoxiuError)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], InvalidTransition) and losers[0].key == "errors.already_taken"
    with Store(config.database, config) as check:
        assert check.get(number).holder == winners[0]
        assert [e.action for e in check.timeline(number)] == [Action.ACCEPT, Action.CLAIM]


def test_one_store_shared_by_threads_serializes_its_transactions(store: Store) -> None:
    start = threading.Barrier(4)
    made: list[str] = []

    def report() -> None:
        start.wait()
        for _ in range(10):
            made.append(store.create_ticket(draft(), NOW).number)

    threads = [threading.Thread(target=report) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == [f"BX20261123-{n:04d}" for n in range(1, 41)]
    assert count(store, "events") == 40


def test_reopen_keeps_the_number_and_offers_the_job_again(store: Store) -> None:
    bind(store, "zhang", "7001")
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.apply(number, Action.SIGN_IN, ZHANG, NOW, data={"distance_m": 12.5})
    store.apply(number, Action.RESOLVE, ZHANG, NOW, note="换了阀门", data={"photos": ["r.jpg"]})
    resolved = [r for r in store.notices_of(number) if r.kind == "reporter.resolved"]
    assert resolved[0].params["resolution"] == "换了阀门"
    assert resolved[0].params["resolution_photos"] == ["r.jpg"]

    reopened = store.apply(number, Action.REOPEN, ALICE, LATER, note="还在漏")

    assert (reopened.number, reopened.state, reopened.holder) == (number, State.NEW, None)
    assert reopened.reopen_count == 1 and reopened.version == 5
    [event] = [e for e in store.timeline(number) if e.action is Action.REOPEN]
    notice_rows.expand(store, "telegram", LATER)
    rows = [r for r in store.notices_of(number) if r.event_id == event.id]
    assert {(r.kind, r.chat) for r in rows if r.chat != FANOUT_CHAT} == {
        ("technician.reopened", "7001"),  # the former holder
        ("team.offer", "-100123"),
        ("team.offer", "7001"),
    }
    assert store.offered_to("li") == [reopened]


def test_transfer_tells_both_technicians_and_the_reporter(store: Store) -> None:
    bind(store, "zhang", "7001")
    bind(store, "li", "7002")
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.apply(number, Action.TRANSFER, WANG, LATER, target="li", note="张师傅休假")
    [event] = [e for e in store.timeline(number) if e.action is Action.TRANSFER]
    assert {(r.kind, r.chat) for r in store.notices_of(number) if r.event_id == event.id} == {
        ("reporter.assigned", "alice"),
        ("technician.assigned", "7002"),
        ("technician.released", "7001"),
    }
    assert store.jobs_of("li") == [store.get(number)]
    assert store.jobs_of("zhang") == []


def test_the_acting_dispatcher_is_not_told_of_his_own_reopen(store: Store) -> None:
    bind(store, "wang", "9001", role="dispatcher")
    bind(store, "sun", "7005")
    sun = Actor(Role.TECHNICIAN, "sun", "孙师傅", frozenset({"power"}))
    number = store.create_ticket(draft("power.outage"), NOW).number
    store.apply(number, Action.ASSIGN, WANG, NOW, target="sun")
    store.apply(number, Action.SIGN_IN, sun, NOW)
    store.apply(number, Action.RESOLVE, sun, NOW, note="合闸")
    store.apply(number, Action.REOPEN, WANG, LATER, note="回访说仍停电")
    [event] = [e for e in store.timeline(number) if e.action is Action.REOPEN]
    assert {(r.kind, r.chat) for r in store.notices_of(number) if r.event_id == event.id} == {
        ("reporter.reopened", "alice"),
        ("technician.reopened", "7005"),
    }


# -- round trips and queries -------------------------------------------------------------


def test_a_ticket_with_every_field_set_round_trips(store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    full = replace(
        store.get(number),
        state=State.PAUSED,
        holder="zhang",
        paused_from=State.ON_SITE,
        pause_reason="等配件",
        signed_in_at=NOW + timedelta(microseconds=123456),
        resolved_at=NOW,
        closed_at=NOW,
        resolution="r",
        resolution_photos=("x.jpg", "y.jpg"),
        distance_m=3.25,
        rating=4,
        comment="好",
        hurry_count=2,
        reopen_count=1,
        master="BX20261123-0009",
        latitude=31.2304,
        longitude=121.4737,
        photos=("a.jpg",),
        preferred_time="明天上午",
    )
    store.db.execute("DELETE FROM tickets")
    with store.transaction():
        store._insert("tickets", ticket_row(full))
    assert store.get(number) == full


def test_timeline_keeps_order_and_data(store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.apply(number, Action.PAUSE, ZHANG, LATER, note="等配件")
    store.apply(number, Action.RESUME, ZHANG, LATER)
    store.apply(number, Action.SIGN_IN, ZHANG, LATER, data={"latitude": 31.2, "distance_m": 8})
    events = store.timeline(number)
    assert [e.action for e in events] == [
        Action.ACCEPT,
        Action.CLAIM,
        Action.PAUSE,
        Action.RESUME,
        Action.SIGN_IN,
    ]
    assert events[2].note == "等配件"
    assert events[4].data == {"latitude": 31.2, "distance_m": 8}
    assert all(isinstance(e, Event) and e.id for e in events)
    assert [e.id for e in events] == sorted(e.id or 0 for e in events)


def test_reporter_queries(store: Store) -> None:
    a = store.create_ticket(draft(), NOW).number
    b = store.create_ticket(draft(spot="401"), NOW + timedelta(minutes=1)).number
    c = store.create_ticket(draft(), NOW + timedelta(minutes=2)).number
    store.create_ticket(draft(chat="bob"), NOW)
    store.apply(c, Action.CANCEL, ALICE, LATER)

    assert [t.number for t in store.tickets_of("web", "alice")] == [b, a, c]
    assert [t.number for t in store.tickets_of("web", "alice", limit=1)] == [b]
    found = store.open_duplicate("web", "alice", "water.leak", "302", NOW - timedelta(hours=1))
    assert found is not None and found.number == a  # c is cancelled
    assert store.open_duplicate("web", "alice", "water.leak", "302", LATER) is None
    assert store.open_duplicate("web", "alice", "net.broadband", "302", NOW) is None


def test_technician_and_dispatcher_queries(store: Store) -> None:
    a = store.create_ticket(draft(), NOW).number
    b = store.create_ticket(draft(area="west"), NOW + timedelta(minutes=1)).number
    manual = store.create_ticket(draft("power.outage"), NOW + timedelta(minutes=2)).number
    auto = store.create_ticket(draft("net.broadband"), NOW + timedelta(minutes=3)).number
    store.apply(a, Action.CLAIM, ZHANG, LATER)

    assert [t.number for t in store.jobs_of("zhang")] == [a]
    assert [t.number for t in store.offered_to("li")] == [b]
    assert store.offered_to("qian") == []  # auto-mode tickets are never offered
    assert store.offered_to("stranger") == []
    assert [t.number for t in store.queue()] == [b, manual]
    assert [t.number for t in store.queue(limit=1)] == [b]
    assert [t.number for t in store.open_tickets()] == [a, b, manual, auto]
    assert [t.number for t in store.open_tickets(team="maint", area="west")] == [b]
    assert [t.number for t in store.open_tickets(category="water")] == [a, b]
    assert [t.number for t in store.open_tickets(category="water.leak")] == [a, b]
    assert store.open_tickets(category="wat") == []
    assert [t.number for t in store.open_tickets(technician="qian")] == [auto]
    assert [t.number for t in store.all_tickets()] == [auto, manual, b, a]
    assert [t.number for t in store.all_tickets(state="assigned", limit=5)] == [auto, a]


def test_overdue_uses_the_limit_of_each_state(store: Store) -> None:
    new = store.create_ticket(draft(), NOW).number  # claim by +30 min
    assigned = store.create_ticket(draft(), NOW).number  # arrive by +120 min
    on_site = store.create_ticket(draft(), NOW).number  # resolve by +480 min
    store.apply(assigned, Action.CLAIM, ZHANG, NOW)
    store.apply(on_site, Action.CLAIM, LI, NOW)
    store.apply(on_site, Action.SIGN_IN, LI, NOW)

    def overdue(minutes: int) -> list[str]:
        return [t.number for t in store.overdue(NOW + timedelta(minutes=minutes))]

    assert overdue(30) == []
    assert overdue(31) == [new]
    assert overdue(121) == [new, assigned]
    assert overdue(481) == [new, assigned, on_site]
    store.apply(new, Action.CANCEL, ALICE, NOW)
    assert overdue(481) == [assigned, on_site]


# -- chats -------------------------------------------------------------------------------


def test_chat_records_round_trip(store: Store) -> None:
    assert store.chat("telegram", "42") == ChatRecord("telegram", "42")
    record = ChatRecord(
        "telegram",
        "42",
        dialogue='{"flow": "intake", "step": "phone", "data": {"d": "漏水"}}',
        locale="en",
        role="technician",
        person="zhang",
        last_phone="+8613800000001",
    )
    store.save_chat(record, NOW)
    assert store.chat("telegram", "42") == record
    cleared = replace(record, dialogue=None, person=None, role="reporter")
    store.save_chat(cleared, LATER)
    assert store.chat("telegram", "42") == cleared
    assert count(store, "chats") == 1


def test_chats_of_person(store: Store) -> None:
    bind(store, "zhang", "2")
    store.save_chat(ChatRecord("web", "z", role="technician", person="zhang"), NOW)
    bind(store, "li", "3")
    assert [(c.channel, c.chat) for c in store.chats_of_person("zhang")] == [
        ("telegram", "2"),
        ("web", "z"),
    ]
    assert store.chats_of_person("nobody") == []


# -- outbox ------------------------------------------------------------------------------


def test_due_notices_are_most_urgent_first_then_oldest(store: Store) -> None:
    bind(store, "zhang", "7001")
    first = store.create_ticket(draft(channel="telegram", chat="500"), NOW, actor=WANG).number
    second = store.create_ticket(draft(channel="telegram", chat="501"), NOW, actor=WANG).number
    # A team's fan-out row is never due as such: delivery expands it first.
    assert {r.chat for r in store.due_notices("telegram", NOW)} == {"500", "501", "-100123"}
    notice_rows.expand(store, "telegram", NOW)
    due = store.due_notices("telegram", NOW)
    assert [(r.number, r.kind, r.priority) for r in due] == [
        (first, "reporter.accepted", 1),
        (second, "reporter.accepted", 1),
        (first, "team.offer", 2),  # the team's group
        (second, "team.offer", 2),
        (first, "team.offer", 2),  # zhang's chat, fanned out
        (second, "team.offer", 2),
    ]
    assert [r.id for r in due[2:]] == sorted(r.id for r in due[2:])
    assert [r.kind for r in store.due_notices("telegram", NOW, chat="501")] == ["reporter.accepted"]
    assert store.due_notices("telegram", NOW - timedelta(seconds=1)) == []
    assert store.due_notices("web", NOW) == []
    assert len(store.due_notices("telegram", NOW, limit=2)) == 2


def test_outbox_sent_retry_and_dead(store: Store) -> None:
    store.create_ticket(draft("power.outage", channel="telegram", chat="500"), NOW, actor=WANG)
    [row] = store.due_notices("telegram", NOW)
    assert (row.status, row.attempts, row.next_at, row.created_at) == ("pending", 0, NOW, NOW)
    assert store.outbox_row(row.id) == row

    retry = NOW + timedelta(seconds=30)
    store.mark_failed(row.id, "429 Too Many Requests", retry)
    assert store.due_notices("telegram", NOW) == []
    [again] = store.due_notices("telegram", retry)
    assert (again.attempts, again.last_error, again.next_at) == (1, "429 Too Many Requests", retry)

    store.mark_sent(row.id, retry, provider_id="m-77")
    sent = store.outbox_row(row.id)
    assert sent is not None
    assert (sent.status, sent.attempts, sent.sent_at, sent.provider_id, sent.last_error) == (
        "sent",
        2,
        retry,
        "m-77",
        "",
    )
    assert store.due_notices("telegram", retry) == []
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "dead": 0}

    store.create_ticket(draft("power.outage", channel="telegram", chat="501"), NOW, actor=WANG)
    [other] = store.due_notices("telegram", NOW)
    store.mark_failed(other.id, "403 bot was blocked by the user", None)
    dead = store.outbox_row(other.id)
    assert dead is not None and (dead.status, dead.attempts) == ("dead", 1)
    assert store.due_notices("telegram", NOW + timedelta(days=1)) == []
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "dead": 1}


# -- platform updates, migrations, connection --------------------------------------------


def test_record_update_dedupes_redeliveries(store: Store) -> None:
    assert store.record_update("telegram", 1001) is True
    assert store.record_update("telegram", 1001) is False
    assert store.record_update("telegram", "1001") is False
    assert store.record_update("wechat", 1001) is True
    with store.transaction():
        assert store.record_update("telegram", 1002) is True
        assert store.record_update("telegram", 1002) is False
    assert count(store, "processed_updates") == 3


def test_migrations_apply_once_and_opening_again_keeps_the_data(
    store: Store, config: Config
) -> None:
    number = store.create_ticket(draft(), NOW).number
    store.close()
    for _ in range(2):
        with Store(config.database, config) as again:
            assert again.get(number).number == number
            applied = again.db.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'baoxiu' ORDER BY id"
            ).fetchall()
            assert [name for (name,) in applied] == migrations.names()
    raw = sqlite3.connect(config.database)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.create_ticket(draft(), datetime(2026, 11, 23, 8, 0))
    assert count(store, "tickets") == 0


def test_the_stored_text_is_utc(store: Store) -> None:
    local = datetime(2026, 11, 23, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    ticket = store.create_ticket(draft(), local)
    [(created,)] = store.db.execute("SELECT created_at FROM tickets").fetchall()
    assert created == "2026-11-23T08:00:00.000000+00:00"
    stored = store.get(ticket.number)
    assert stored == ticket and stored.created_at.utcoffset() == timedelta(0)


def test_filing_a_ticket_reads_without_savepoints(store: Store) -> None:
    """Reads go through conn.execute inside the store's transaction: sqlite-utils'
    SAVEPOINT/RELEASE around each read were 24 of the 42 statements of a new ticket."""
    store.create_ticket(draft(chat="first"), NOW)
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        store.create_ticket(draft(chat="second"), NOW + timedelta(seconds=1))
    finally:
        store.db.conn.set_trace_callback(None)
    assert not [sql for sql in seen if "SAVEPOINT" in sql or "RELEASE" in sql]
    assert not [sql for sql in seen if "RECURSIVE" in sql]  # no followers of a new ticket
    # Statements the store sends (FTS5's own "-- " statements on its shadow tables
    # excluded), the search index row and the statistics rollup upsert included.
    assert len([sql for sql in seen if not sql.startswith("--")]) <= 24, seen  # 50 before
