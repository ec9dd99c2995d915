"""A realistic big database for the benches: built once, cached under ``bench/.data/``.

``path = ensure(tickets=1_000_000)`` returns ``bench/.data/tickets-1000000.db``, building it
first if it is missing (about a minute per 500k tickets on one core). What is in it:

- ``tickets`` tickets created evenly over the 12 months before ``END`` (2026-11-23 08:00
  UTC), numbered per local day like the store does (``BX20261122-0042``), categories,
  areas and buildings of the built-in configuration, its time limits for the due times;
- states by age: the last 7 days still moving (new, assigned, on_site, paused, resolved,
  closed); older ones mostly closed (≈ 90 % of all), some cancelled, duplicate, resolved,
  and a few forgotten open ones (so "overdue" finds old tickets too);
- holders among 200 technicians ``t000``…``t199`` (one team, see ``team_config()``),
  reporters among 200,000 chats of web / telegram / terminal;
- ≈ 5 events per ticket (accept, claim or assign, sign_in, resolve, confirm/close…),
  ``day_seq`` rows so that new tickets get fresh numbers, and ``ANALYZE`` statistics.

Built with raw ``executemany`` into the real schema (the store's migrations run first,
the list indexes are dropped during the load and made again after it), into a temporary
file renamed into place, so an interrupted build leaves no half-made cache.

Usage: ``python bench/data.py [--tickets N] [--force]`` prints the path (``make scale``
runs ``bench/scale.py``, which calls ``ensure``). Other benches: ``from bench.data
import END, ensure, team_config``. This module writes nothing but its cache file.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.loader import load
from config.model import Config, Team, Technician
from tickets.store import Store

CACHE = Path(__file__).resolve().parent / ".data"
END = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
"""The bench's "now": the newest ticket is a little older than this."""
DAYS = 365
TECHNICIANS = tuple(f"t{i:03d}" for i in range(200))
CHANNELS = ("web", "telegram", "terminal")
REPORTERS = 200_000
SCHEMA_VERSION = 2  # bump when the data or the schema changes: the file name changes with it

_RECENT = [
    ("new", 10),
    ("assigned", 20),
    ("on_site", 15),
    ("paused", 5),
    ("resolved", 20),
    ("closed", 30),
]
_OLD = [
    ("closed", 920),
    ("cancelled", 40),
    ("duplicate", 20),
    ("resolved", 10),
    ("assigned", 5),
    ("paused", 5),
]
# Events after "accept" that lead to each state.
_STEPS = {
    "new": [],
    "assigned": ["claim"],
    "on_site": ["claim", "sign_in"],
    "paused": ["claim", "sign_in", "pause"],
    "resolved": ["claim", "sign_in", "resolve"],
    "closed": ["claim", "sign_in", "resolve", "confirm"],
    "cancelled": ["cancel"],
    "duplicate": ["merge"],
}
_NEXT_STATE = {
    "claim": "assigned",
    "sign_in": "on_site",
    "pause": "paused",
    "resolve": "resolved",
    "confirm": "closed",
    "cancel": "cancelled",
    "merge": "duplicate",
}


def base_config() -> Config:
    """The built-in configuration (its categories, areas, limits)."""
    return load(None)


def team_config(config: Config | None = None, members: int = 200) -> Config:
    """``config`` (default: built-in) with its first team made of ``t000``… technicians
    (the holders in the bench data), every skill and area."""
    config = config or base_config()
    people = TECHNICIANS[:members]
    skills = tuple(g.code for g in config.categories)
    areas = tuple(a.code for a in config.areas)
    techs = tuple(
        Technician(p, f"师傅{p}", f"+86139{i:08d}", skills, areas) for i, p in enumerate(people)
    )
    team: Team = replace(config.teams[0], members=people)
    return replace(config, technicians=techs, teams=(team, *config.teams[1:]))


def path_for(tickets: int) -> Path:
    return CACHE / f"tickets-{tickets}-v{SCHEMA_VERSION}.db"


def ensure(tickets: int = 1_000_000, *, force: bool = False, quiet: bool = False) -> Path:
    """The cached database of ``tickets`` tickets, built first if missing."""
    final = path_for(tickets)
    if final.exists() and not force:
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = final.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    build(partial, tickets)
    partial.replace(final)
    if not quiet:
        print(f"built {final} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return final


def build(path: Path, count: int, seed: int = 1) -> None:
    config = base_config()
    Store(path, replace(config, database=path)).close()  # the real schema, migrated
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")  # a bulk load into a file nobody else reads
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MB while loading
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('tickets', 'events')"
    ).fetchall()
    conn.execute("BEGIN")
    for name, _sql in indexes:
        conn.execute(f"DROP INDEX {name}")
    _load(conn, config, count, random.Random(seed))
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")  # what the store runs with
    conn.close()


def _load(conn: sqlite3.Connection, config: Config, count: int, rng: random.Random) -> None:
    leaves = [leaf for group in config.categories for leaf in group.children]
    places = [(a.code, b.code) for a in config.areas for b in a.buildings]
    zone = ZoneInfo(config.timezone)
    start = END - timedelta(days=DAYS)
    span = (END - start).total_seconds() - 60
    seconds = sorted(rng.random() * span for _ in range(count))
    recent_from = span - 7 * 86400
    day_last: dict[str, int] = {}
    columns = (
        "number, state, category, team, priority, mode, phone, description, reporter_channel,"
        " reporter_chat, reporter_locale, created_at, updated_at, area, building, spot, holder,"
        " claim_due, arrive_due, resolve_due, signed_in_at, resolved_at, closed_at, rating"
    )
    ticket_sql = f"INSERT INTO tickets ({columns}) VALUES ({', '.join('?' * 24)})"
    event_sql = (
        "INSERT INTO events (number, at, actor_role, actor_id, action, from_state, to_state,"
        " note, data) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?)"
    )
    ticket_rows: list[tuple[object, ...]] = []
    event_rows: list[tuple[object, ...]] = []
    states_recent = [s for s, w in _RECENT for _ in range(w)]
    states_old = [s for s, w in _OLD for _ in range(w)]
    for offset in seconds:
        at = start + timedelta(seconds=offset)
        day = at.astimezone(zone).strftime("%Y%m%d")
        day_last[day] = day_last.get(day, 0) + 1
        number = f"BX{day}-{day_last[day]:04d}"
        leaf = rng.choice(leaves)
        area, building = rng.choice(places)
        state = rng.choice(states_recent if offset >= recent_from else states_old)
        channel = rng.choice(CHANNELS)
        chat = f"r{rng.randrange(REPORTERS)}"
        tech = rng.choice(TECHNICIANS)
        steps = _STEPS[state]
        holder = tech if steps and steps[0] == "claim" else None
        times = [at]
        for _ in steps:
            times.append(times[-1] + timedelta(minutes=rng.randint(5, 240)))
        stamp = [_iso(t) for t in times]
        limits = leaf.limits
        by_action = dict(zip(steps, stamp[1:], strict=True))
        ticket_rows.append(
            (
                number,
                state,
                leaf.code,
                leaf.team,
                leaf.priority.value,
                leaf.mode.value,
                f"+8613{rng.randrange(10**9):09d}",
                f"{leaf.zh} {number[-4:]}",
                channel,
                chat,
                "zh_CN",
                stamp[0],
                stamp[-1],
                area,
                building,
                f"{rng.randint(1, 20)}{rng.randint(1, 30):02d}",
                holder,
                _iso(at + timedelta(minutes=limits.claim)),
                _iso(at + timedelta(minutes=limits.arrive)),
                _iso(at + timedelta(minutes=limits.resolve)),
                by_action.get("sign_in"),
                by_action.get("resolve"),
                by_action.get("confirm"),
                rng.randint(3, 5) if state == "closed" else None,
            )
        )
        event_rows.append((number, stamp[0], "reporter", chat, "accept", None, "new", "{}"))
        current = "new"
        for action, when in zip(steps, stamp[1:], strict=True):
            role, actor = ("technician", tech) if holder else ("dispatcher", "wang")
            if action in ("confirm", "cancel"):
                role, actor = "reporter", chat
            after = _NEXT_STATE[action]
            event_rows.append((number, when, role, actor, action, current, after, "{}"))
            current = after
        if len(ticket_rows) >= 20_000:
            conn.executemany(ticket_sql, ticket_rows)
            conn.executemany(event_sql, event_rows)
            ticket_rows.clear()
            event_rows.clear()
    conn.executemany(ticket_sql, ticket_rows)
    conn.executemany(event_sql, event_rows)
    conn.executemany("INSERT INTO day_seq (day, last) VALUES (?, ?)", list(day_last.items()))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--force", action="store_true", help="build again even if cached")
    args = parser.parse_args(argv)
    print(ensure(args.tickets, force=args.force))


if __name__ == "__main__":
    main()
