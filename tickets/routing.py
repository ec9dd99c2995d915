"""Who gets the job: ``route(ticket, config, load, now) -> RoutingDecision``.

The team: the category's team for the ticket's area (``area_teams``), else the
category's team if it covers the area, else a team that covers the area and has someone
skilled in the category, else the category's team anyway. Within the team, a technician
is eligible when skilled in the category, on duty (schedule, holidays, leave) and under
the cap on open jobs; one who works in the ticket's area is preferred, and one from
elsewhere is taken when nobody local is free, since an answer from afar beats none.
Eligible technicians are ordered by fewest open jobs, then by who has waited longest
since their last job, then by id, so the order is total and a decision is repeatable.
In auto mode the first one gets the job.

Pure: the load (open jobs, last job times) and the moment are arguments. The store
reads the load and acts on the decision; nothing here writes or sends.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from types import MappingProxyType
from typing import Any

from config.model import Config, Technician
from tickets import duty
from tickets.model import Mode, Ticket

NEVER = datetime.min.replace(tzinfo=UTC)
"""Last job time of someone who never had one: they have waited longest."""


@dataclass(frozen=True)
class Load:
    """Open jobs per technician and when each last got a job."""

    open_jobs: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    last_job: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class RoutingDecision:
    team: str
    mode: Mode
    why: str  # how the team was found: area_team | category | coverage | fallback
    technician: str | None  # auto mode: who gets the job now
    candidates: tuple[str, ...]  # eligible technicians, best first
    skipped: Mapping[str, str]  # member → skill | area | leave | off_duty | cap | excluded

    def data(self) -> dict[str, Any]:
        """What the timeline keeps of the decision (a few candidates, not all)."""
        return {
            "team": self.team,
            "why": self.why,
            "technician": self.technician,
            "candidates": list(self.candidates[:5]),
        }


def skilled(technician: Technician, category: str) -> bool:
    """No skills listed means every category; a group code covers its leaves."""
    if not technician.skills:
        return True
    return category in technician.skills or category.split(".")[0] in technician.skills


def serves(technician: Technician, area: str) -> bool:
    return not technician.areas or not area or area in technician.areas


def covers(team: str, area: str, config: Config) -> bool:
    """A team with no ``areas`` covers every area."""
    areas = config.dispatch.team_areas.get(team)
    return not areas or not area or area in areas


def team_for(category: str, area: str, config: Config) -> tuple[str, str]:
    """(team code, why) for a ticket of ``category`` in ``area``."""
    own = config.dispatch.of(category).area_teams.get(area)
    if own:
        return own, "area_team"
    leaf = config.category(category)
    default = leaf.team if leaf is not None else ""
    if leaf is not None and covers(default, area, config):
        return default, "category"
    people = _people(config)
    for team in config.teams:
        if area in config.dispatch.team_areas.get(team.code, ()) and any(
            m in people and skilled(people[m], category) for m in team.members
        ):
            return team.code, "coverage"
    return default, "fallback"


def route(
    ticket: Ticket,
    config: Config,
    load: Load,
    now: datetime,
    *,
    exclude: Collection[str] = (),
) -> RoutingDecision:
    """Where ``ticket`` goes and, in auto mode, to whom; ``exclude`` names technicians
    who must not get it again (those who released it)."""
    team_code, why = team_for(ticket.category, ticket.area, config)
    order, skipped = rank(team_code, ticket, config, load, now, exclude=exclude)
    return RoutingDecision(
        team=team_code,
        mode=ticket.mode,
        why=why,
        technician=order[0] if ticket.mode is Mode.AUTO and order else None,
        candidates=tuple(order),
        skipped=MappingProxyType(skipped),
    )


def rank(
    team_code: str,
    ticket: Ticket,
    config: Config,
    load: Load,
    now: datetime,
    *,
    exclude: Collection[str] = (),
) -> tuple[list[str], dict[str, str]]:
    """The eligible members of ``team_code`` for ``ticket``, best first, and why the
    others are not."""
    # The answer depends on the configuration, the team, the ticket's category and area,
    # the load and ``exclude`` only — and on ``now`` through members with a schedule or
    # leave. A team's load object stays the same while nobody's jobs change
    # (dispatch_store.load_of), so a team of 200 offered new tickets is ranked once, not
    # sorted again for every ticket (issue 11); a team with a timed member is not cached.
    key = (id(config), team_code, ticket.category, ticket.area, id(load), tuple(exclude))
    hit = _RANKS.get(key)
    if hit is not None and hit[0] is config and hit[1] is load:
        return list(hit[2]), dict(hit[3])
    pool, skipped = _rank(team_code, ticket, config, load, now, exclude)
    members, _ = _members(config, team_code, ticket.category, ticket.area)
    if not any(scheduled for _, scheduled, _ in members):
        if len(_RANKS) >= 64:
            _RANKS.clear()
        _RANKS[key] = (config, load, tuple(pool), dict(skipped))
    return pool, skipped


_RANKS: dict[
    tuple[int, str, str, str, int, tuple[str, ...]],
    tuple[Config, Load, tuple[str, ...], dict[str, str]],
] = {}


def _rank(
    team_code: str,
    ticket: Ticket,
    config: Config,
    load: Load,
    now: datetime,
    exclude: Collection[str],
) -> tuple[list[str], dict[str, str]]:
    cap = config.dispatch.max_open_jobs
    jobs, last = load.open_jobs, load.last_job
    local: list[str] = []
    far: list[str] = []
    skipped: dict[str, str] = {}
    # Skill and area are fixed per configuration: read from a cached view of the team
    # for this category and area, so a team of 200 costs little per member, and the
    # duty calendar is asked only about members who have a schedule or leave (issue 11).
    members, unskilled = _members(config, team_code, ticket.category, ticket.area)
    skipped.update((m, "excluded" if m in exclude else "skill") for m in unskilled)
    for member, scheduled, near in members:
        reason = None
        if member in exclude:
            reason = "excluded"
        elif cap is not None and jobs.get(member, 0) >= cap:
            reason = "cap"
        elif scheduled:
            reason = duty.off_duty_reason(member, now, config)
        if reason is not None:
            skipped[member] = reason
        else:
            (local if near else far).append(member)
    if local:
        skipped.update(dict.fromkeys(far, "area"))
    pool = local or far
    if jobs or last:
        # The same (open jobs, last job, id) keys, built by map/zip in C rather than a
        # generator frame per member: a team of 200 is sorted for every new ticket.
        ordered = sorted(
            zip(
                map(jobs.get, pool, repeat(0)),
                map(last.get, pool, repeat(NEVER)),
                pool,
                strict=True,
            )
        )
        pool = [m for _, _, m in ordered]
    else:
        pool.sort()
    return pool, skipped


def wider_pool(ticket: Ticket, config: Config, load: Load, now: datetime) -> list[str]:
    """Eligible technicians of every team that covers the ticket's area (its own team
    first): whom a dispatcher may assign a job its team left unclaimed."""
    found: list[str] = []
    teams = [ticket.team] + [t.code for t in config.teams if t.code != ticket.team]
    for code in teams:
        if code != ticket.team and not covers(code, ticket.area, config):
            continue
        order, _ = rank(code, ticket, config, load, now)
        found.extend(m for m in order if m not in found)
    return found


# One index per configuration: route() runs for every new ticket, and a linear search
# through 500 technicians per member adds up.
_INDEX: dict[int, tuple[Config, dict[str, Technician]]] = {}


def _members(
    config: Config, team_code: str, category: str, area: str
) -> tuple[tuple[tuple[str, bool, bool], ...], tuple[str, ...]]:
    """The configured members of the team skilled in ``category`` as (id, has a schedule
    or leave, serves ``area``), and those not skilled in it."""
    key = (id(config), team_code, category, area)
    entry = _TEAMS.get(key)
    if entry is None or entry[0] is not config:
        if len(_TEAMS) > 256:
            _TEAMS.clear()
        team = config.team(team_code)
        people = _people(config)
        timed = duty.has_rules(config)
        known = [m for m in (team.members if team is not None else ()) if m in people]
        fit = tuple(
            (m, m in timed, serves(people[m], area)) for m in known if skilled(people[m], category)
        )
        unfit = tuple(m for m in known if not skilled(people[m], category))
        entry = (config, (fit, unfit))
        _TEAMS[key] = entry
    return entry[1]


_TeamView = tuple[tuple[tuple[str, bool, bool], ...], tuple[str, ...]]
_TEAMS: dict[tuple[int, str, str, str], tuple[Config, _TeamView]] = {}


def _people(config: Config) -> dict[str, Technician]:
    entry = _INDEX.get(id(config))
    if entry is None or entry[0] is not config:
        if len(_INDEX) > 8:
            _INDEX.clear()
        entry = (config, {t.id: t for t in config.technicians})
        _INDEX[id(config)] = entry
    return entry[1]
