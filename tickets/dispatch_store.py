"""The store's side of dispatch and time limits: the hooks ``tickets.store`` calls around
each change, the ``timers`` table, the load of each technician, and follow-up tasks.

- ``prepare``/``accepted`` (creation): route the ticket to its team, raise its priority
  on configured keywords, count its deadlines, plan its timers, and in auto mode assign
  the technician ``tickets.routing`` picked.
- ``before_write`` (every change, before the row is written): refuse a claim, assignment
  or transfer beyond the cap on open jobs; record the hand-off; mark a limit broken as
  overdue (for good); count the deadlines again after a priority change, resume, release
  or reopen; pick the next technician of an auto-mode job released or reopened.
- ``after_write`` (after the row, event and outbox): keep each technician's last job
  time, open or close follow-up tasks, plan the timers again, and perform what the
  change calls for (the next auto assignment, a keyword priority raise).
- ``fire_due`` (the scheduler's tick): every timer whose time has come takes its action
  through ``Store.apply`` and is marked fired in that same transaction, so the event,
  its notices and the "fired" mark are written together or not at all.

Rules live in the pure modules (``routing``, ``sla``, ``timers``, ``dispatch_notices``);
this module only reads what they need and writes what they decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tickets import dispatch_notices, followups, receipt, routing, sla, timers
from tickets.errors import BaoxiuError, InvalidInput, InvalidTransition, NotAllowed
from tickets.incident_store import BROADCAST, Host, dispatcher_chats, tell
from tickets.model import OPEN_STATES, Action, Actor, Event, Mode, Priority, Role, State, Ticket
from tickets.rows import iso, when

if TYPE_CHECKING:
    from tickets.store import Store

_OPEN = ", ".join(repr(s.value) for s in sorted(OPEN_STATES))
_HOLDS = (Action.CLAIM, Action.ASSIGN, Action.TRANSFER)
_RECOUNT = (Action.PRIORITY, Action.RESUME, Action.RELEASE, Action.REOPEN)
_DONE_BY = {Action.SIGN_IN: "arrive", Action.RESOLVE: "resolve"}
_QUIET = (Action.REMIND, Action.ESCALATE, Action.HURRY)  # nothing to plan again
NOT_FIXED_AFTER_CLOSE = "not_fixed_after_close"


# -- load ---------------------------------------------------------------------------------


def load_of(store: Store, technicians: Iterable[str]) -> routing.Load:
    """Open jobs and last job time of ``technicians``."""
    wanted = technicians if isinstance(technicians, tuple) else tuple(technicians)
    if not wanted:
        return routing.Load()
    # open_jobs is kept by triggers (migration perf_0003): counting a team's open tickets
    # here cost 6-11 ms a new ticket at a million tickets. Both tables hold one row per
    # technician who ever had a job — a few hundred — so they are read whole, as plain
    # tuples, and filtered here: a team of 200 was two reads of 200 parameters and 400
    # dicts a new ticket, twice the time of reading every row (issue 11). And read again
    # only when either changed since (load_changes, kept by triggers in every process;
    # migration fan2_0001): a team offered new tickets in claim mode changes neither.
    # The mark itself is read once per transaction (tickets.marks).
    parse = datetime.fromisoformat
    with store.reader() as conn:
        mark = store.mark("load")
        key = (str(store.path), wanted)
        known = _LOADS.get(key)
        if known is not None and known[0] == mark:
            return known[1]
        jobs = conn.execute("SELECT technician, n FROM open_jobs WHERE n > 0").fetchall()
        last = conn.execute("SELECT technician, last_job_at FROM workload").fetchall()
    members = frozenset(wanted)
    load = routing.Load(
        # Read-only views: the same Load is handed to every caller until the mark moves.
        open_jobs=MappingProxyType({who: n for who, n in jobs if who in members}),
        last_job=MappingProxyType({who: parse(at) for who, at in last if who in members}),
    )
    if len(_LOADS) >= 64:
        _LOADS.clear()
    _LOADS[key] = (mark, load)
    return load


_LOADS: dict[tuple[str, tuple[str, ...]], tuple[int, routing.Load]] = {}


def team_load(store: Store, team: str) -> routing.Load:
    found = store.config.team(team)
    return load_of(store, found.members if found else ())


def open_jobs(store: Store, technician: str) -> int:
    [row] = store.query(
        f"SELECT COUNT(*) AS n FROM tickets WHERE holder = ? AND state IN ({_OPEN})",
        [technician],
    )
    return int(row["n"])


def decide(store: Store, ticket: Ticket, now: datetime, **kw: Any) -> routing.RoutingDecision:
    """``routing.route`` with the load read from the store."""
    team, _ = routing.team_for(ticket.category, ticket.area, store.config)
    return routing.route(ticket, store.config, team_load(store, team), now, **kw)


# -- creation -----------------------------------------------------------------------------


def prepare(store: Store, ticket: Ticket, now: datetime) -> tuple[Ticket, dict[str, Any]]:
    """The new ticket routed, its priority raised if its words call for it, its due
    times counted; and what the acceptance event records of that."""
    config = store.config
    data: dict[str, Any] = {}
    raised = sla.raised_priority(ticket.description, ticket.category, ticket.priority, config)
    if raised is not None:
        data["priority"] = raised[0].value
        data["raised_by"] = raised[1]
        ticket = replace(ticket, priority=raised[0])
    decision = decide(store, ticket, now)
    data["route"] = decision.data()
    if decision.team != ticket.team:  # a copy of 40 fields only when it moves
        ticket = replace(ticket, team=decision.team)
    return sla.recompute(ticket, config, now), data


def accepted(store: Store, ticket: Ticket, accept: Event) -> Ticket:
    """After the acceptance is written: the auto-mode assignment, or the timers."""
    technician = accept.data.get("route", {}).get("technician")
    if ticket.mode is Mode.AUTO and technician:
        return store.apply(
            ticket.number, Action.ASSIGN, Actor.system(), accept.at, target=technician
        )
    replan(store, ticket, [accept], fresh=True)
    return ticket


# -- around every change ---------------------------------------------------------------


def before_write(store: Store, before: Ticket, after: Ticket, event: Event) -> tuple[Ticket, Event]:
    config = store.config
    action, now, data = event.action, event.at, dict(event.data)
    cap = config.dispatch.max_open_jobs
    taking = after.holder if action in _HOLDS and after.holder != before.holder else None
    if taking and cap is not None and open_jobs(store, taking) >= cap:
        tech = config.technician(taking)
        raise NotAllowed("dispatch_errors.cap_reached", name=tech.name if tech else taking, cap=cap)
    if action is Action.TRANSFER and before.holder:
        data["from"] = before.holder  # the hand-off chain, readable from the timeline alone
    broken = _broken(before, event)
    if broken and broken not in after.overdue.split(","):
        after = replace(after, overdue=",".join(filter(None, [after.overdue, broken])))
    history: list[Event] | None = None
    if action in _RECOUNT:
        history = [*store.timeline(after.number), replace(event, data=data)]
        after = sla.recompute(after, config, now, events=history)
    if action is Action.ESCALATE and data.get("limit") == timers.UNCLAIMED:
        data["suggested"] = _suggestions(store, after, now)
    if action in (Action.RELEASE, Action.REOPEN) and after.mode is Mode.AUTO:
        history = history or [*store.timeline(after.number), event]
        start = sla.clock(after, config, history).start
        gone = {e.actor_id for e in history if e.action is Action.RELEASE and e.at >= start}
        data["route"] = decide(store, after, now, exclude=gone).data()
    return after, replace(event, data=data)


def _suggestions(store: Store, ticket: Ticket, now: datetime) -> list[str]:
    """Names of the wider pool's best few: whom the dispatcher could assign instead."""
    config = store.config
    people = {
        m for t in config.teams if routing.covers(t.code, ticket.area, config) for m in t.members
    }
    pool = routing.wider_pool(ticket, config, load_of(store, people), now)
    return [t.name for m in pool[:5] if (t := config.technician(m)) is not None]


def _broken(before: Ticket, event: Event) -> str:
    """The limit ``event`` shows broken: met too late, or a timer saying it ran out."""
    if event.action is Action.ESCALATE:
        limit, percent = event.data.get("limit"), event.data.get("percent")
        if limit in sla.LIMITS and isinstance(percent, int) and percent >= 100:
            return str(limit)
        return ""
    limit = _DONE_BY.get(event.action)
    if event.action in (Action.CLAIM, Action.ASSIGN) and before.state is State.NEW:
        limit = "claim"
    due = getattr(before, f"{limit}_due") if limit else None
    return limit if limit and due is not None and event.at > due else ""


def after_write(store: Store, before: Ticket, after: Ticket, event: Event) -> Ticket:
    config = store.config
    number, now = after.number, event.at
    if event.action in _HOLDS and after.holder:
        store.db.execute(
            "INSERT INTO workload (technician, last_job_at) VALUES (?, ?) ON CONFLICT"
            " (technician) DO UPDATE SET last_job_at = excluded.last_job_at",
            [after.holder, iso(now)],
        )
    reason = dispatch_notices.follow_up_reason(after, event, config)
    if reason is None and followups.to_sample(before, after, event, config):
        reason = followups.SAMPLED  # a share of closed tickets gets a call (tickets.followups)
    if reason is not None and event.id is not None:
        open_follow_up(store, number, reason, now, event.id)
    if event.action is Action.FOLLOW_UP and event.data.get("outcome") != followups.STILL_OPEN:
        store.db.execute(
            "UPDATE follow_ups SET status = 'done', outcome = ?, done_at = ?, done_by = ?"
            " WHERE number = ? AND status = 'open'",
            [event.note, iso(now), event.actor_id, number],
        )
    if event.action not in _QUIET:
        replan(store, after)
    if receipt.is_missed(event):
        return receipt.missed(store, after, event)  # to the next candidate (接单确认)
    technician = event.data.get("route", {}).get("technician")
    if event.action in (Action.RELEASE, Action.REOPEN) and technician and after.state is State.NEW:
        return store.apply(number, Action.ASSIGN, Actor.system(), now, target=technician)
    if event.action is Action.ADD_INFO and after.is_open:
        raised = sla.raised_priority(event.note, after.category, after.priority, config)
        if raised is not None:
            return store.apply(
                number,
                Action.PRIORITY,
                Actor.system(),
                now,
                note=raised[1],
                data={"priority": raised[0].value, "raised_by": raised[1]},
            )
    return after


def set_priority(
    store: Store, number: str, priority: Priority | str, actor: Actor, now: datetime, note: str = ""
) -> Ticket:
    """Action.PRIORITY: the due times are counted again (``before_write``), the timers
    planned again (``after_write``) and the holder told."""
    value = priority.value if isinstance(priority, Priority) else priority
    return store.apply(number, Action.PRIORITY, actor, now, note=note, data={"priority": value})


# -- timers -------------------------------------------------------------------------------


def replan(
    store: Store, ticket: Ticket, events: Sequence[Event] | None = None, *, fresh: bool = False
) -> None:
    """Replace the ticket's unfired timers by its plan; fired ones stay (and their keys
    keep a planned timer of the same key from being inserted again). ``fresh``: a ticket
    being filed, which has no timers yet to replace."""
    history = list(events) if events is not None else store.timeline(ticket.number)
    planned = timers.plan(ticket, store.config, history)
    if not fresh:
        store.db.execute(
            "DELETE FROM timers WHERE number = ? AND fired_at IS NULL", [ticket.number]
        )
    for t in planned:
        store.db.execute(
            "INSERT INTO timers (number, cycle, kind, limit_name, threshold, due_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [ticket.number, t.cycle, t.kind, t.limit, t.threshold, iso(t.at)],
        )


@dataclass(frozen=True)
class Fired:
    number: str
    kind: str
    limit: str
    threshold: int
    outcome: str  # fired | skipped | stale | refused
    event_id: int | None = None


def fire_due(store: Store, now: datetime, *, batch: int = 200) -> list[Fired]:
    """Take the action of every timer due at ``now`` (at most ``batch`` tickets)."""
    rows = store.query(
        "SELECT DISTINCT number FROM timers WHERE fired_at IS NULL AND due_at <= ?"
        " ORDER BY due_at LIMIT ?",
        [iso(now), batch],
    )
    out: list[Fired] = []
    for row in rows:
        with store.transaction():
            out.extend(_fire_ticket(store, row["number"], now))
    return out


def _fire_ticket(store: Store, number: str, now: datetime) -> list[Fired]:
    pending = store.query(
        "SELECT * FROM timers WHERE number = ? AND fired_at IS NULL AND due_at <= ? ORDER BY id",
        [number, iso(now)],
    )
    ticket = store.ticket(number)
    fired_keys = {
        (r["cycle"], r["kind"], r["limit_name"], r["threshold"])
        for r in store.query(
            "SELECT * FROM timers WHERE number = ? AND fired_at IS NOT NULL", [number]
        )
    }
    history = store.timeline(number)
    planned = timers.plan(ticket, store.config, history) if ticket is not None else []
    decided = timers.due(planned, fired_keys, now)
    outcome = {t.key: "fired" for t in decided.fire} | {t.key: "skipped" for t in decided.skip}
    by_key = {t.key: t for t in (*decided.fire, *decided.skip)}
    results = []
    # Every due row is marked first: the actions below plan the ticket's timers again,
    # which replaces unfired rows only.
    for row in pending:
        key = (row["cycle"], row["kind"], row["limit_name"], row["threshold"])
        result = outcome.get(key, "stale")  # the plan changed since: nothing to do
        store.db.execute(
            "UPDATE timers SET fired_at = ?, outcome = ? WHERE id = ?",
            [iso(now), result, row["id"]],
        )
        results.append((row, key, result))
    out: list[Fired] = []
    for row, key, result in results:
        event_id = None
        if result == "fired":
            action, note, data = timers.action_of(by_key[key])
            try:
                store.apply(number, action, Actor.system(), now, note=note, data=data)
            except BaoxiuError:
                result = "refused"  # e.g. an earlier timer of this tick closed it
            else:
                [last] = store.query("SELECT MAX(id) AS id FROM events WHERE number = ?", [number])
                event_id = last["id"]
            store.db.execute(
                "UPDATE timers SET outcome = ?, event_id = ? WHERE id = ?",
                [result, event_id, row["id"]],
            )
        out.append(
            Fired(number, row["kind"], row["limit_name"], row["threshold"], result, event_id)
        )
    return out


def backfill(store: Store, after: str = "", *, batch: int = 200) -> str | None:
    """Plan the timers of open or resolved tickets that have none (filed before timers
    existed, say), ``batch`` at a time in number order after ``after``; returns where to
    go on from, or ``None`` when done."""
    states = ", ".join(repr(s) for s in (*sorted(s.value for s in OPEN_STATES), "resolved"))
    rows = store.query(
        f"SELECT number FROM tickets WHERE state IN ({states}) AND number > ?"
        " AND NOT EXISTS (SELECT 1 FROM timers WHERE timers.number = tickets.number)"
        " ORDER BY number LIMIT ?",
        [after, batch],
    )
    with store.transaction():
        for row in rows:
            ticket = store.ticket(row["number"])
            if ticket is not None:
                replan(store, ticket)
    return rows[-1]["number"] if len(rows) == batch else None


def next_due(store: Store) -> datetime | None:
    [row] = store.query("SELECT MIN(due_at) AS at FROM timers WHERE fired_at IS NULL")
    return when(row["at"])


def timers_of(store: Store, number: str) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM timers WHERE number = ? ORDER BY due_at, id", [number])


# -- follow-ups ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    id: int
    number: str
    reason: str  # low_rating | not_fixed | not_fixed_after_close
    opened_at: datetime
    status: str  # open | done
    outcome: str = ""
    done_by: str | None = None


def open_follow_up(store: Host, number: str, reason: str, now: datetime, event_id: int) -> bool:
    """Open a follow-up task for the event that called for it; ``False`` when that event
    already has one (a retried command opens nothing twice)."""
    cursor = store.db.execute(
        "INSERT INTO follow_ups (number, reason, opened_at, event_id) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (event_id) DO NOTHING",
        [number, reason, iso(now), event_id],
    )
    return bool(cursor.rowcount)


def request_follow_up(
    store: Host, params: dict[str, Any], actor: Actor, now: datetime
) -> Ticket | None:
    """The rule command ``followup.request``: the reporter of a closed ticket says it is
    still not fixed. Too late to reopen it, so the dispatchers get a follow-up task with
    the reporter's words, keyed to the ticket's last event."""
    ticket = store.get(str(params.get("number", "")))
    if actor.role is not Role.REPORTER or ticket.reporter != actor.id:
        raise NotAllowed("errors.not_owner", number=ticket.number)
    if ticket.state is not State.CLOSED:
        raise InvalidTransition(
            "errors.invalid_transition", action=Action.REOPEN.value, state=ticket.state.value
        )
    note = str(params.get("note", "")).strip()[:1000]
    if not note:
        raise InvalidInput("errors.reason_required", action=Action.REOPEN.value)
    [last] = store.query("SELECT MAX(id) AS id FROM events WHERE number = ?", [ticket.number])
    if open_follow_up(store, ticket.number, NOT_FIXED_AFTER_CLOSE, now, int(last["id"])):
        holder = store.config.technician(ticket.holder or "")
        task = {
            **{k: getattr(ticket, k) for k in ("number", "category", "area", "building")},
            **{k: getattr(ticket, k) for k in ("spot", "team", "phone", "description")},
            "priority": ticket.priority.value,
            "holder_name": holder.name if holder else ticket.holder or "",
            "reason": NOT_FIXED_AFTER_CLOSE,
            "rating": ticket.rating,
            "comment": note,
        }
        chats = dispatcher_chats(store)
        scope, kind = f"fu{last['id']}", "dispatcher.follow_up"
        tell(store, scope, kind, chats, task, now, number=ticket.number, priority=BROADCAST)
    return ticket


def follow_ups(store: Store, *, status: str | None = "open", limit: int = 200) -> list[FollowUp]:
    """Satisfaction calls the dispatchers owe (``status=None``: all), oldest first, at
    most ``limit`` (follow_ups_status serves the order)."""
    where, params = ("status = ?", [status]) if status else ("1", [])
    rows = store.query(
        f"SELECT * FROM follow_ups WHERE {where} ORDER BY opened_at, id LIMIT ?", [*params, limit]
    )
    return [
        FollowUp(
            r["id"],
            r["number"],
            r["reason"],
            datetime.fromisoformat(r["opened_at"]),
            r["status"],
            r["outcome"],
            r["done_by"],
        )
        for r in rows
    ]
