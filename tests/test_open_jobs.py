"""The open jobs of each technician (table ``open_jobs``, kept by triggers; routing reads
it for a team's load, issue 11) always equal the count of his open tickets, whatever
writes the rows: the workflow's changes, a raw insert, a delete."""

from __future__ import annotations

from conftest import NOW, draft

from tickets.model import Action, Actor, Role
from tickets.rows import ticket_row
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
LI = Actor(Role.TECHNICIAN, "li", "李师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")


def kept(store: Store) -> dict[str, int]:
    rows = store.query("SELECT technician, n FROM open_jobs WHERE n != 0")
    return {r["technician"]: r["n"] for r in rows}


def counted(store: Store) -> dict[str, int]:
    rows = store.query(
        "SELECT holder, COUNT(*) AS n FROM tickets WHERE holder IS NOT NULL"
        " AND state IN ('new', 'assigned', 'on_site', 'paused') GROUP BY holder"
    )
    return {r["holder"]: r["n"] for r in rows}


def test_open_jobs_follow_every_change(store: Store) -> None:
    a = store.create_ticket(draft(chat="a"), NOW).number
    b = store.create_ticket(draft(chat="b"), NOW).number
    c = store.create_ticket(draft(chat="c"), NOW).number
    assert kept(store) == counted(store) == {}
    store.apply(a, Action.CLAIM, ZHANG, NOW)
    store.apply(b, Action.CLAIM, ZHANG, NOW)
    store.apply(c, Action.CLAIM, LI, NOW)
    assert kept(store) == counted(store) == {"zhang": 2, "li": 1}
    store.apply(b, Action.TRANSFER, WANG, NOW, target="li")
    store.apply(a, Action.SIGN_IN, ZHANG, NOW)
    store.apply(a, Action.PAUSE, ZHANG, NOW, note="parts")
    assert kept(store) == counted(store) == {"zhang": 1, "li": 2}
    store.apply(a, Action.RESUME, ZHANG, NOW)
    store.apply(a, Action.RESOLVE, ZHANG, NOW, note="done")
    store.apply(c, Action.RELEASE, LI, NOW, note="too far")
    assert kept(store) == counted(store) == {"li": 1}
    # Rows written by hand (a bulk load, a test fixture) and deleted ones count too.
    held = store.get(b)
    with store.transaction():
        row = ticket_row(held)
        row["number"] = "BX20261123-9999"
        store.db.execute(
            f"INSERT INTO tickets ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    assert kept(store) == counted(store) == {"li": 2}
    with store.transaction():
        store.db.execute("DELETE FROM tickets WHERE number = ?", [b])
    assert kept(store) == counted(store) == {"li": 1}


def test_a_teams_load_is_two_reads_whatever_its_size(store: Store) -> None:
    """dispatch_store.load_of: the same two reads (after the change mark's) for a team of
    1 or of 200 (issue 11); a count that went back to 0 is no open job, one who never had
    a job has no last job time, and only the technicians asked about are in it."""
    from tickets import dispatch_store

    a = store.create_ticket(draft(chat="a"), NOW).number
    store.apply(a, Action.CLAIM, ZHANG, NOW)
    b = store.create_ticket(draft(chat="b"), NOW).number
    store.apply(b, Action.CLAIM, LI, NOW)
    store.apply(b, Action.RELEASE, LI, NOW, note="too far")
    asked: dict[int, list[str]] = {}
    for size in (1, 200):
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        load = dispatch_store.load_of(store, ["zhang", "li", *(f"t{i}" for i in range(size))])
        store.db.conn.set_trace_callback(None)
        asked[size] = statements
        assert dict(load.open_jobs) == {"zhang": 1}  # li's row is back at 0
        assert set(load.last_job) == {"zhang", "li"}
        assert load.last_job["zhang"] == NOW
    assert asked[1] == asked[200] and len(asked[1]) == 3  # the mark, then both tables
    only_li = dispatch_store.load_of(store, ["li"])
    assert dict(only_li.open_jobs) == {} and set(only_li.last_job) == {"li"}


def test_a_load_is_read_again_only_when_open_jobs_or_workload_changed(store: Store) -> None:
    """load_of answers from what it read last while load_changes' mark stands (one
    statement, issue 11), and reads both tables again once a claim moved them."""
    from tickets import dispatch_store

    team = ("zhang", "li")
    a = store.create_ticket(draft(chat="a"), NOW).number
    first = dispatch_store.load_of(store, team)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    again = dispatch_store.load_of(store, team)
    store.db.conn.set_trace_callback(None)
    assert again is first and statements == ["SELECT mark FROM load_changes WHERE id = 1"]
    store.apply(a, Action.CLAIM, ZHANG, NOW)
    after = dispatch_store.load_of(store, team)
    assert dict(after.open_jobs) == {"zhang": 1} and set(after.last_job) == {"zhang"}
    with store.transaction():  # a write of another process moves the mark as well
        store.db.execute("DELETE FROM workload")
    assert dict(dispatch_store.load_of(store, team).last_job) == {}
