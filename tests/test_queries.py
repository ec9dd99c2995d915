"""tickets.queries: filters, both sorts, keyset pages and their cursors, and the plan of
every filter × sort the console offers (EXPLAIN QUERY PLAN: no full scan of tickets, no
sort of more than a page)."""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from conftest import NOW, make_ticket

from tickets import queries
from tickets.errors import InvalidInput
from tickets.model import State, Ticket
from tickets.queries import TicketFilter, page
from tickets.rows import ticket_row
from tickets.store import Store


def insert(store: Store, tickets: list[Ticket]) -> None:
    with store.transaction():
        for t in tickets:
            row = ticket_row(t)
            store.db.execute(
                f"INSERT INTO tickets ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )


def sample() -> list[Ticket]:
    """40 tickets over 40 hours; states, areas, holders and limits vary by index."""
    states = [State.NEW, State.ASSIGNED, State.ON_SITE, State.PAUSED, State.CLOSED]
    found = []
    for i in range(40):
        at = NOW - timedelta(hours=i)
        found.append(
            make_ticket(
                number=f"BX20261123-{i:04d}",
                state=states[i % 5],
                area=("east", "west")[i % 2],
                holder=None if i % 5 == 0 else ("li", "zhang")[i % 3 == 0],
                created_at=at,
                updated_at=at,
                claim_due=at + timedelta(minutes=30 + i * 7),
                arrive_due=at + timedelta(hours=2, minutes=i * 5),
                resolve_due=at + timedelta(hours=8),
            )
        )
    return found


def due(t: Ticket) -> str:
    limit = {
        State.NEW: t.claim_due,
        State.ASSIGNED: t.arrive_due,
        State.ON_SITE: t.resolve_due,
        State.PAUSED: t.resolve_due,
    }.get(t.state)
    return limit.isoformat() if limit else "~"


def every_page(store: Store, flt: TicketFilter, sort: str, limit: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        got = page(store, flt, sort=sort, after=after, limit=limit, now=NOW)
        assert len(got.tickets) <= limit
        seen += [t.number for t in got.tickets]
        if got.next_cursor is None:
            return seen
        after = got.next_cursor


FILTERS = [
    TicketFilter(),
    TicketFilter(states=("closed",)),
    TicketFilter(states=("new", "assigned", "on_site", "paused")),
    TicketFilter(area="west"),
    TicketFilter(states=("new", "assigned"), area="east"),
    TicketFilter(technician="zhang"),
    TicketFilter(overdue=True),
    TicketFilter(states=("assigned",), overdue=True),
    TicketFilter(created_from=NOW - timedelta(hours=10), created_to=NOW - timedelta(hours=2)),
    TicketFilter(category="water"),
    TicketFilter(number_prefix="BX20261123-001"),
]


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.parametrize("sort", queries.SORTS)
@pytest.mark.parametrize("limit", [1, 3, 50])
def test_pages_cover_the_matches_in_order_once(
    store: Store, flt: TicketFilter, sort: str, limit: int
) -> None:
    tickets = sample()
    insert(store, tickets)
    matching = [t for t in tickets if matches(t, flt)]
    if sort == "newest":
        expected = sorted(matching, key=lambda t: (t.created_at, t.number), reverse=True)
    else:
        expected = sorted(matching, key=lambda t: (due(t), t.number))
    assert matching, "every filter of the table matches something"
    assert every_page(store, flt, sort, limit) == [t.number for t in expected]
    assert queries.count(store, flt, now=NOW) == len(matching)
    assert queries.count(store, flt, now=NOW, cap=2) == min(2, len(matching))


def matches(t: Ticket, flt: TicketFilter) -> bool:
    created_to = flt.created_to or NOW + timedelta(days=1)
    created_from = flt.created_from or NOW - timedelta(days=99)
    return (
        (not flt.states or t.state.value in flt.states)
        and flt.area in (None, t.area)
        and flt.technician in (None, t.holder)
        and (not flt.overdue or due(t) < NOW.isoformat())
        and created_from <= t.created_at < created_to
        and (flt.category is None or t.category.startswith(flt.category + "."))
        and t.number.startswith(flt.number_prefix or "")
    )


def test_the_last_page_has_no_cursor_and_an_empty_list_is_one_page(store: Store) -> None:
    assert page(store, TicketFilter()) == queries.Page((), None)
    insert(store, sample()[:3])
    assert page(store, TicketFilter(), limit=3).next_cursor is None
    assert page(store, TicketFilter(), limit=2).next_cursor is not None


@pytest.mark.parametrize(
    "cursor", ["", "!!!", "bm90IGpzb24", queries.encode_cursor("deadline", "x", "y"), "e30"]
)
def test_a_bad_cursor_is_invalid_input(store: Store, cursor: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        page(store, TicketFilter(), sort="newest", after=cursor)
    assert caught.value.key == "errors.invalid_input"
    assert caught.value.params["field"] == "cursor"


def test_an_unknown_sort_is_invalid_input(store: Store) -> None:
    with pytest.raises(InvalidInput):
        page(store, TicketFilter(), sort="sideways")


def test_due_key_follows_the_state(store: Store) -> None:
    """The generated column is right after an UPDATE too (no writer maintains it)."""
    ticket = sample()[0]
    insert(store, [ticket])
    with store.transaction():
        store.db.execute("UPDATE tickets SET state = 'assigned' WHERE number = ?", [ticket.number])
    got = page(store, TicketFilter(), sort="deadline").tickets[0]
    assert due(got) == due(replace(ticket, state=State.ASSIGNED))
    overdue = TicketFilter(overdue=True)
    assert page(store, overdue, now=ticket.arrive_due + timedelta(seconds=1)).tickets
    assert not page(store, overdue, now=ticket.arrive_due - timedelta(seconds=1)).tickets


# -- plans ---------------------------------------------------------------------------------


def plan_problems(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[str]:
    """What is wrong with a statement's plan: a table scan of tickets without an index,
    or a temp B-tree sorting rows read straight from tickets (sorting the output of
    LIMITed subqueries is bounded, and allowed)."""
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    children: dict[int, list[str]] = {}
    for _node, parent, _, detail in plan:
        children.setdefault(parent, []).append(detail)
    problems = []
    for _node, parent, _, detail in plan:
        if detail in ("SCAN tickets", "SCAN TABLE tickets"):
            problems.append(f"full scan: {detail}")
        if detail.startswith("USE TEMP B-TREE") and any(
            d.startswith(("SCAN tickets", "SEARCH tickets")) for d in children[parent]
        ):
            problems.append(f"sorts every match: {detail}")
    return [f"{p}\n  {sql}\n  {plan}" for p in problems]


def console_filters() -> list[TicketFilter]:
    """Every filter alone and with a state (one, or the open ones), as the console
    offers them; plus the no-filter list."""
    singles: list[dict[str, Any]] = [
        {},
        {"area": "east"},
        {"building": "b1"},
        {"category": "water"},
        {"team": "maint"},
        {"technician": "li"},
        {"priority": "high"},
        {"channel": "web"},
        {"overdue": True},
        {"created_from": NOW - timedelta(days=7), "created_to": NOW},
        {"number_prefix": "BX2026"},
        {"area": "east", "technician": "li", "overdue": True},
    ]
    states: list[tuple[str, ...]] = [(), ("closed",), ("new", "assigned", "on_site", "paused")]
    return [TicketFilter(states=s, **f) for s, f in itertools.product(states, singles)]


@pytest.mark.parametrize("sort", queries.SORTS)
@pytest.mark.parametrize("later", [False, True])
def test_every_console_list_reads_in_index_order(store: Store, sort: str, later: bool) -> None:
    after = queries.encode_cursor(sort, NOW.isoformat(), "BX20261123-0001") if later else None
    problems = []
    for flt in console_filters():
        sql, params = queries.statement(flt, sort=sort, after=after, now=NOW)
        problems += plan_problems(store.db.conn, sql, params)
        count_sql = "SELECT COUNT(*) FROM tickets WHERE state = ?"
        problems += plan_problems(store.db.conn, count_sql, ["closed"])
    assert not problems, "\n".join(problems)


def test_the_plan_check_catches_a_sort_and_a_scan(store: Store) -> None:
    """The checker itself fails the two shapes it is there for."""
    conn = store.db.conn
    assert plan_problems(conn, "SELECT * FROM tickets WHERE description = ?", ["x"])
    assert plan_problems(conn, "SELECT * FROM tickets WHERE state = 'x' ORDER BY updated_at", [])
    assert not plan_problems(conn, *queries.statement(TicketFilter(states=("new",))))


def test_every_store_list_reads_in_index_order(store: Store) -> None:
    """The store's own lists (chats, dispatcher, technician, rules) pass the same check:
    every SELECT on tickets they run, captured as it runs."""
    insert(store, sample())
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        store.tickets_of("web", "alice")
        store.open_duplicate("web", "alice", "water.leak", "302", NOW - timedelta(days=1))
        store.jobs_of("li")
        store.offered_to("li")
        store.queue()
        store.open_tickets()
        store.open_tickets(team="maint", area="east", category="water", technician="li")
        store.overdue(NOW)
        store.all_tickets()
        store.all_tickets(state="closed")
    finally:
        store.db.conn.set_trace_callback(None)
    selects = [sql for sql in seen if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) >= 10
    problems = [p for sql in selects for p in plan_problems(store.db.conn, sql, [])]
    assert not problems, "\n".join(problems)


def test_rows_streams_every_ticket_newest_first_across_batches(store: Store) -> None:
    tickets = sample()
    insert(store, tickets)
    got = [row["number"] for row in queries.rows(store, batch=7)]
    newest = sorted(tickets, key=lambda t: (t.created_at, t.number), reverse=True)
    assert got == [t.number for t in newest]


@pytest.mark.parametrize("limit", [1, 5, 8, 10, 40])
def test_tickets_of_is_one_read_open_first_newest_first(store: Store, limit: int) -> None:
    """Issue 11: a chat's "my tickets" was two reads (open, then the rest); it is one
    statement now, in index order, and still gives open tickets first, newest first."""
    insert(store, sample())  # alice's 40: every fifth closed
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        found = store.tickets_of("web", "alice", limit=limit)
    finally:
        store.db.conn.set_trace_callback(None)
    selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert not plan_problems(store.db.conn, selects[0], [])
    everything = sorted(sample(), key=lambda t: (not t.is_open, -t.created_at.timestamp()))
    assert [t.number for t in found] == [t.number for t in everything[:limit]]
