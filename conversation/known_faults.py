"""The intake's side of the repeat, incident and outage rules.

- ``announce``: as soon as a report's category and area are known, a resident is told
  of a known fault there — an open large-area incident ("known fault, being handled,
  expected by …", the report will join it) or a planned outage (told first; they may
  still file). Told once per report.
- ``at_confirm``: what a confirmed report becomes instead of a new ticket: a hurry of
  the reporter's open ticket of the same fault (a complaint to the dispatcher once it has
  waited too long), a reopen of one fixed a short while ago, or a report joining an open
  incident. ``None`` means: file it.
- ``outcome``: the reply once the engine has performed that.

Pure like every flow: the tickets of the reporter, incidents and outages are read through
``ctx.lookup`` (incident and outage questions only when the lookup can answer them: the
store can, a test's fake may not); the decisions are ``tickets.repeats``'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast, runtime_checkable

from conversation.actions import Rule, TicketAction
from conversation.context import Ctx
from conversation.i18n import local_time
from conversation.replies import Reply, Say
from conversation.state import IDLE
from conversation.step import Step
from tickets.incidents import Incident
from tickets.model import Ticket
from tickets.outages import Outage
from tickets.repeats import Hurry, Reopen, judge

MINE = 50
"""How many of the reporter's latest tickets the repeat rules look at."""
SHORT = "%m-%d %H:%M"


@runtime_checkable
class KnownFaults(Protocol):
    """What the store answers about incidents and outages (``tickets.incident_store``)."""

    def incident_for(
        self,
        area: str,
        category: str,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Incident | None: ...

    def incident(self, incident_id: int) -> Incident | None: ...

    def outage_for(self, area: str, category: str, now: datetime) -> Outage | None: ...


def _faults(ctx: Ctx) -> KnownFaults | None:
    # Asked at every step of a report: isinstance() against a runtime-checkable Protocol
    # walks the protocol's attributes each time (1.5 % of a step); the answer depends on
    # the lookup's class only, so it is worked out once per class.
    kind = type(ctx.lookup)
    known = _KNOWS.get(kind)
    if known is None:
        known = _KNOWS[kind] = isinstance(ctx.lookup, KnownFaults)
    return cast(KnownFaults, ctx.lookup) if known else None


_KNOWS: dict[type, bool] = {}


def _coordinate(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) else None


def incident_of(data: dict[str, Any], ctx: Ctx) -> Incident | None:
    faults = _faults(ctx)
    if faults is None or not data.get("category") or "area" not in data:
        return None
    return faults.incident_for(
        str(data.get("area") or ""),
        str(data["category"]),
        _coordinate(data, "latitude"),
        _coordinate(data, "longitude"),
    )


def category_name(code: str, ctx: Ctx) -> str:
    leaf = ctx.config.category(code)
    group = ctx.config.group(leaf.group if leaf else code)
    if leaf is None:
        return group.name(ctx.locale) if group else code
    return f"{group.name(ctx.locale)} / {leaf.name(ctx.locale)}" if group else leaf.name(ctx.locale)


def area_name(code: str, ctx: Ctx) -> str:
    area = ctx.config.area(code) if code else None
    return area.name(ctx.locale) if area else code or "-"


def _when(moment: datetime | None, ctx: Ctx) -> str:
    return local_time(moment, ctx.config.timezone, SHORT) if moment else "-"


def announce(data: dict[str, Any], ctx: Ctx) -> str:
    """The line to put before the next question, once, when a known fault covers the
    report's category and area; marks ``data["known"]`` so it is said once."""
    faults = _faults(ctx)
    if faults is None or not data.get("category") or "area" not in data:
        return ""
    incident = incident_of(data, ctx)
    if incident is not None:
        mark = f"incident:{incident.id}"
        text = ctx.t(
            "incidents.known",
            category=category_name(incident.category, ctx),
            area=area_name(incident.area, ctx),
            eta=_when(incident.expected_at, ctx),
            note=ctx.t("incidents.note", note=incident.note) if incident.note else "",
        )
    else:
        outage = faults.outage_for(str(data.get("area") or ""), str(data["category"]), ctx.now)
        if outage is None:
            return ""
        mark = f"outage:{outage.id}"
        text = ctx.t(
            "outages.known",
            category=category_name(outage.category, ctx),
            area=area_name(outage.area, ctx),
            start=_when(outage.starts_at, ctx),
            end=_when(outage.ends_at, ctx),
            reason=ctx.t("outages.reason", reason=outage.reason) if outage.reason else "",
        )
    if data.get("known") == mark:
        return ""
    data["known"] = mark
    return text


def at_confirm(data: dict[str, Any], ctx: Ctx) -> Step | None:
    """What a confirmed report becomes when it is no new job; ``None``: file it."""
    mine = ctx.lookup.tickets_of(ctx.channel, ctx.chat, limit=MINE)
    verdict = judge(mine, str(data["category"]), str(data["spot"]), ctx.now, ctx.config.repeats)
    if isinstance(verdict, Hurry):
        return _do("repeat.hurry", {"number": verdict.number})
    if isinstance(verdict, Reopen):
        params = {
            "number": verdict.number,
            "note": data.get("description", ""),
            "resolved_at": verdict.resolved_at.isoformat(),
        }
        return _do("repeat.reopen", params)
    incident = incident_of(data, ctx)
    if incident is not None:
        params = {
            "incident": incident.id,
            "spot": data.get("spot", ""),
            "description": data.get("description", ""),
        }
        return _do("incident.join", params)
    return None  # a repeat of a closed ticket is filed; the store flags it


def _do(kind: str, params: dict[str, Any]) -> Step:
    return Step(IDLE, (), (Rule(kind, params, flow="intake"),))


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    if not isinstance(action, Rule):
        return ()
    if action.kind == "repeat.hurry" and ticket is not None:
        text = ctx.t(
            "repeats.hurried",
            number=ticket.number,
            at=_when(ticket.created_at, ctx),
            state=ctx.t(f"states.{ticket.state.value}"),
        )
        hours = ctx.config.repeats.hurry_hours
        if (ctx.now - ticket.created_at).total_seconds() > hours * 3600:
            text += "\n" + ctx.t("repeats.hurried_complaint", hours=hours)
        return (Say(text),)
    if action.kind == "repeat.reopen" and ticket is not None:
        fixed = action.params.get("resolved_at")
        at = _when(datetime.fromisoformat(fixed), ctx) if isinstance(fixed, str) else "-"
        return (Say(ctx.t("repeats.reopened", number=ticket.number, at=at)),)
    if action.kind == "incident.join":
        faults = _faults(ctx)
        found = faults.incident(int(action.params["incident"])) if faults else None
        if found is None:
            code = f"#{action.params.get('incident', '')}"
            return (Say(ctx.t("incidents.joined_plain", code=code)),)
        text = ctx.t(
            "incidents.joined",
            code=found.code,
            category=category_name(found.category, ctx),
            area=area_name(found.area, ctx),
            eta=_when(found.expected_at, ctx),
        )
        return (Say(text),)
    return ()
