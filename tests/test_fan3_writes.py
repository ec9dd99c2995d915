"""Issue 11, what a new ticket writes: the index diet of migration fan3_0001 (fewer
pages per commit) keeps every look-up of the creation path and the store's lists in
index order — no full scan, no sort of every match (the checker of test_queries)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from conftest import NOW, draft
from test_queries import insert, plan_problems, sample

from tickets import incident_store
from tickets.store import Store


def test_the_creation_look_ups_read_in_index_order(store: Store) -> None:
    tickets = sample()
    insert(store, tickets)
    ticket = replace(tickets[0], latitude=31.2, longitude=121.4)
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        incident_store.mine(store, ticket)
        for by in ("area", "building"):
            incident_store.recent(store, ticket, 60, by=by, radius_m=100)
        nowhere = replace(ticket, area="", building="")
        incident_store.recent(store, nowhere, 60, by="area", radius_m=100)
        store.open_duplicate("web", "alice", "water.leak", "302", NOW - timedelta(days=1))
        store.followers(ticket.number)
    finally:
        store.db.conn.set_trace_callback(None)
    selects = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) >= 6
    problems = [p for sql in selects for p in plan_problems(store.db.conn, sql, [])]
    assert not problems, "\n".join(problems)


def test_a_new_ticket_is_in_fewer_indexes(store: Store) -> None:
    """The holder's and the masters' indexes are partial (a new ticket has neither), and
    the ones whose reads others serve are gone."""
    conn = store.db.conn
    listed = {row[1]: row[4] for row in conn.execute("PRAGMA index_list(tickets)")}
    for partial in ("tickets_holder_newest", "tickets_holder_due", "tickets_master"):
        assert listed[partial] == 1, partial
    for gone in ("tickets_state_team", "tickets_category_area", "tickets_reporter_newest"):
        assert gone not in listed
    timers = {row[1] for row in conn.execute("PRAGMA index_list(timers)")}
    assert "timers_number" not in timers
    number = store.create_ticket(draft(), NOW).number
    assert store.timeline(number)  # and filing still works end to end
