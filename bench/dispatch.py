"""How fast dispatch is, and that a claim race has one winner.

With 500 technicians (20 teams of 25, duty schedules, skills, areas, a cap) and 50,000
open tickets in a real WAL file, prints (no assertions; tests never assert on time):

1. pure routing decisions/s — ``tickets.routing.route`` with a load snapshot;
2. store routing decisions/s — ``dispatch_store.decide``: the team's load read from the
   50,000 open tickets, then ``route`` (what creating a ticket does);
3. auto-mode ticket creations/s — ``Store.create_ticket``: route, insert, assign, plan
   timers, queue notices, in one transaction;
4. timers fired/s — ``dispatch_store.fire_due`` on the reminders those tickets have due;
5. 50 simultaneous claims on one job (50 threads, one connection each, released at once
   by a barrier): how many won (must be exactly one) and how long the race took.

p50/p99 are per decision. Usage: ``python bench/dispatch.py [--tickets 50000]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.dispatch_config import Duty, Leave, Week, Window
from config.loader import load
from config.model import Area, Config, Team, Technician
from tickets import dispatch_store, routing
from tickets.errors import BaoxiuError
from tickets.model import Action, Actor, Draft, Mode, Priority, Role, State, Ticket
from tickets.rows import event_row, ticket_row
from tickets.store import Store

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
AREAS = [f"a{i:02d}" for i in range(10)]
TEAMS = 20
PER_TEAM = 25


def big_config(base: Config, folder: Path) -> Config:
    """500 technicians in 20 teams; each team covers two areas; half work office hours,
    the rest around the clock; a few on leave; every category in auto mode."""
    technicians, teams = [], []
    groups = base.all_categories()
    for t in range(TEAMS):
        members = []
        for m in range(PER_TEAM):
            n = t * PER_TEAM + m
            skills = (groups[n % len(groups)].group,) if n % 3 else ()
            areas = (AREAS[t % 10], AREAS[(t + 1) % 10]) if n % 4 else ()
            technicians.append(Technician(f"t{n:03d}", f"师傅{n}", f"+86139{n:08d}", skills, areas))
            members.append(f"t{n:03d}")
        teams.append(Team(f"team{t:02d}", f"班组{t}", tuple(members)))
    categories = tuple(
        replace(
            g,
            children=tuple(
                replace(c, mode=Mode.AUTO, team=f"team{i % TEAMS:02d}") for c in g.children
            ),
        )
        for i, g in enumerate(base.categories)
    )
    office = Week(frozenset(range(5)), (Window(8 * 60, 18 * 60),))
    dispatch = replace(
        base.dispatch,
        max_open_jobs=200,
        team_areas=MappingProxyType(
            {t.code: (AREAS[i % 10], AREAS[(i + 1) % 10]) for i, t in enumerate(teams)}
        ),
        duty=(Duty(office, teams=tuple(t.code for t in teams[::2])),),
        leave=tuple(
            Leave(f"t{n:03d}", START - timedelta(days=1), START + timedelta(days=3))
            for n in range(0, 500, 25)
        ),
    )
    return replace(
        base,
        database=folder / "bench.db",
        media_dir=folder / "media",
        areas=tuple(Area(a, a, a, ()) for a in AREAS),
        technicians=tuple(technicians),
        teams=tuple(teams),
        categories=categories,
        dispatch=dispatch,
    )


def draft(config: Config, i: int) -> Draft:
    leaves = config.all_categories()
    return Draft(
        category=leaves[i % len(leaves)].code,
        phone=f"+86138{i:08d}",
        description="水管接头一直在滴水",
        reporter_channel="web",
        reporter_chat=f"r{i}",
        area=AREAS[i % len(AREAS)],
        spot=f"{i % 30}室",
    )


def fill(store: Store, config: Config, count: int) -> None:
    """``count`` open tickets held by random technicians, written in bulk."""
    rng = random.Random(7)
    people = [t.id for t in config.technicians]
    tickets, events = [], []
    for i in range(count):
        d = draft(config, i)
        leaf = config.category(d.category)
        assert leaf is not None
        at = START - timedelta(minutes=rng.randrange(1, 600))
        t = Ticket(
            number=f"BX20261122-{i:05d}",
            state=State.ASSIGNED,
            category=d.category,
            team=leaf.team,
            priority=Priority.NORMAL,
            mode=Mode.AUTO,
            phone=d.phone,
            description=d.description,
            reporter_channel=d.reporter_channel,
            reporter_chat=d.reporter_chat,
            reporter_locale="zh_CN",
            created_at=at,
            updated_at=at,
            area=d.area,
            holder=rng.choice(people),
        )
        tickets.append(ticket_row(t))
        from tickets.model import Event

        events.append(
            event_row(
                Event(
                    t.number,
                    at,
                    Role.SYSTEM,
                    "system",
                    Action.ASSIGN,
                    State.NEW,
                    State.ASSIGNED,
                    data={"target": t.holder},
                )
            )
        )
    with store.transaction():
        cols = list(tickets[0])
        store.db.conn.executemany(
            f"INSERT INTO tickets ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [[row[c] for c in cols] for row in tickets],
        )
        ecols = list(events[0])
        store.db.conn.executemany(
            f"INSERT INTO events ({', '.join(ecols)}) VALUES ({', '.join('?' for _ in ecols)})",
            [[row[c] for c in ecols] for row in events],
        )


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"


def bench_pure(store: Store, config: Config, n: int) -> None:
    load_all = dispatch_store.load_of(store, (t.id for t in config.technicians))
    probes = [store.ticket(f"BX20261122-{i:05d}") for i in range(n)]
    samples = []
    began = time.perf_counter()
    for t in probes:
        assert t is not None
        t0 = time.perf_counter()
        routing.route(replace(t, state=State.NEW, holder=None), config, load_all, START)
        samples.append(time.perf_counter() - t0)
    took = time.perf_counter() - began
    print(f"1. pure routing:   {n / took:10,.0f} decisions/s  ({percentiles(samples)})")


def bench_store(store: Store, config: Config, n: int) -> None:
    probes = [store.ticket(f"BX20261122-{i:05d}") for i in range(n)]
    samples = []
    began = time.perf_counter()
    for t in probes:
        assert t is not None
        t0 = time.perf_counter()
        dispatch_store.decide(store, replace(t, state=State.NEW, holder=None), START)
        samples.append(time.perf_counter() - t0)
    took = time.perf_counter() - began
    print(f"2. store routing:  {n / took:10,.0f} decisions/s  ({percentiles(samples)})")


def bench_create(store: Store, config: Config, n: int) -> list[str]:
    samples, numbers = [], []
    began = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        numbers.append(store.create_ticket(draft(config, 100_000 + i), START).number)
        samples.append(time.perf_counter() - t0)
    took = time.perf_counter() - began
    assigned = sum(1 for x in numbers if (t := store.ticket(x)) and t.holder)
    print(
        f"3. auto creation:  {n / took:10,.0f} tickets/s    ({percentiles(samples)}; "
        f"{assigned}/{n} assigned by rule)"
    )
    return numbers


def bench_fire(store: Store) -> None:
    later = START + timedelta(hours=5)
    began = time.perf_counter()
    fired = []
    while batch := dispatch_store.fire_due(store, later, batch=200):
        fired.extend(batch)
    took = time.perf_counter() - began
    done = sum(1 for f in fired if f.outcome == "fired")
    print(
        f"4. timers:         {len(fired) / took:10,.0f} timers/s     "
        f"({done} fired, {len(fired) - done} skipped as superseded, {took:.2f} s)"
    )


def bench_race(config: Config, folder: Path) -> None:
    team = config.teams[0]
    people = [config.technician(m) for m in team.members][:25]
    people += [config.technician(m) for m in config.teams[0].members][: 50 - len(people)]
    # 50 distinct claimers: the first 25 members, then 25 from the same team's clone
    crew = tuple(p for p in people if p is not None)
    extra = tuple(
        Technician(f"x{i:02d}", f"替班{i}", f"+86137{i:08d}") for i in range(50 - len(crew))
    )
    racers = (*crew, *extra)
    raced = replace(
        config,
        database=folder / "race.db",
        technicians=(*config.technicians, *extra),
        teams=(replace(team, members=tuple(p.id for p in racers)), *config.teams[1:]),
        dispatch=replace(config.dispatch, duty=(), leave=()),
    )
    leaf = next(c for c in raced.all_categories() if c.team == team.code)
    raced = replace(
        raced,
        categories=tuple(
            replace(
                g,
                children=tuple(
                    replace(c, mode=Mode.CLAIM) if c.code == leaf.code else c for c in g.children
                ),
            )
            for g in raced.categories
        ),
    )
    with Store(raced.database, raced) as store:
        number = store.create_ticket(replace(draft(raced, 0), category=leaf.code), START).number
    gate = threading.Barrier(len(racers))
    won: list[str] = []
    lost: list[str] = []
    times: list[float] = []

    def claim(person: Technician) -> None:
        actor = Actor(Role.TECHNICIAN, person.id, person.name, frozenset({team.code}))
        with Store(raced.database, raced) as own:
            gate.wait()
            t0 = time.perf_counter()
            try:
                own.apply(number, Action.CLAIM, actor, START)
                won.append(person.id)
            except BaoxiuError as error:
                lost.append(error.key)
            times.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=claim, args=(p,)) for p in racers]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    with Store(raced.database, raced) as store:
        holder = store.get(number).holder
    verdict = "OK" if len(won) == 1 and holder == won[0] else "BROKEN"
    print(
        f"5. claim race:     {len(racers)} claims → {len(won)} winner ({holder}), "
        f"{len(lost)} refused; {verdict}; race {took * 1e3:.0f} ms, "
        f"slowest claim {max(times) * 1e3:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--decisions", type=int, default=5_000)
    parser.add_argument("--creations", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = big_config(load(), folder)
        with Store(config.database, config) as store:
            t0 = time.perf_counter()
            fill(store, config, args.tickets)
            print(
                f"{len(config.technicians)} technicians, {len(config.teams)} teams, "
                f"{args.tickets:,} open tickets (filled in {time.perf_counter() - t0:.1f} s)"
            )
            bench_pure(store, config, args.decisions)
            bench_store(store, config, args.decisions)
            bench_create(store, config, args.creations)
            bench_fire(store)
        bench_race(config, folder)


if __name__ == "__main__":
    main()
