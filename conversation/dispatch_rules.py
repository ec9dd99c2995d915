"""The dispatcher's rule commands in chat: /transfer, /merge, /priority, /incident
(list, open, close) and /outage (list, add, cancel), and their buttons (``d:merge:N:M``
from a duplicate suggestion, ``d:iopen:ID`` from an incident proposal, ``d:iclose:ID``,
``d:ocancel:ID``).

``conversation.dispatcher`` hands these names and verbs over after checking that the chat
belongs to a dispatcher. Steps never write: they ask for an ``Act`` (transfer, merge,
priority go through the ticket workflow) or a ``Rule`` (incidents and outages, performed
by ``Store.perform_rule``), and ``outcome`` describes the result. Incidents and outages
are read through ``ctx.lookup`` when it can answer (the store can).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from config.model import Config
from conversation.actions import Act, Rule, TicketAction
from conversation.context import Ctx
from conversation.events import typed_number
from conversation.followup import not_found
from conversation.i18n import local_time
from conversation.known_faults import area_name, category_name
from conversation.replies import Ask, Choice, Reply, Say
from conversation.state import DialogueState
from conversation.step import Step
from tickets.incidents import Incident, IncidentState, Linked
from tickets.model import Action, Priority, Ticket
from tickets.outages import Outage, take_when, window_end

NAME = "dispatcher"
COMMANDS = frozenset({"transfer", "merge", "priority", "incident", "outage"})
BUTTONS = frozenset({"merge", "iopen", "iclose", "ocancel"})
SHORT = "%m-%d %H:%M"
PRIORITY_WORDS = {
    "urgent": Priority.URGENT,
    "紧急": Priority.URGENT,
    "high": Priority.HIGH,
    "高": Priority.HIGH,
    "normal": Priority.NORMAL,
    "普通": Priority.NORMAL,
    "low": Priority.LOW,
    "低": Priority.LOW,
}
_SUB = {
    "list": "list",
    "列表": "list",
    "open": "open",
    "开启": "open",
    "close": "close",
    "结束": "close",
    "add": "add",
    "发布": "add",
    "cancel": "cancel",
    "取消": "cancel",
}


@runtime_checkable
class RuleLookup(Protocol):
    """What the store answers about incidents and outages (``tickets.incident_store``)."""

    def incident(self, incident_id: int) -> Incident | None: ...

    def incidents(self, *states: IncidentState) -> list[Incident]: ...

    def incident_for(
        self,
        area: str,
        category: str,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Incident | None: ...

    def linked(self, incident_id: int) -> list[Linked]: ...

    def outages(self, now: datetime | None = None) -> list[Outage]: ...


def _rules(ctx: Ctx) -> RuleLookup | None:
    return ctx.lookup if isinstance(ctx.lookup, RuleLookup) else None


def _number(text: str) -> str:
    return text.strip().upper()


def _when(moment: datetime | None, ctx: Ctx) -> str:
    return local_time(moment, ctx.config.timezone, SHORT) if moment else "-"


def find_area(given: str, config: Config) -> str | None:
    """An area code, from its code or its name in either language."""
    wanted = given.strip().casefold()
    for area in config.areas:
        if wanted in (area.code, area.zh.casefold(), area.en.casefold()):
            return area.code
    return None


def find_category(given: str, config: Config) -> str | None:
    """A leaf or group code, from its code or its name in either language."""
    wanted = given.strip().casefold()
    for group in config.categories:
        if wanted in (group.code, group.zh.casefold(), group.en.casefold()):
            return group.code
        for leaf in group.children:
            if wanted in (leaf.code, leaf.zh.casefold(), leaf.en.casefold()):
                return leaf.code
    return None


# -- commands -------------------------------------------------------------------------


def command(name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step:
    words = arg.split()
    if name == "transfer":
        return _transfer(words, state, ctx)
    if name == "merge":
        if len(words) != 2:
            return Step(state, (Say(ctx.t("dispatch.usage_merge")),))
        return merge(_number(words[0]), _number(words[1]), state, ctx)
    if name == "priority":
        return _priority(words, state, ctx)
    sub = _SUB.get(words[0].casefold(), "") if words else "list"
    if name == "incident":
        if sub == "list":
            return Step(state, incident_list(ctx))
        if sub == "open" and len(words) >= 2:
            return _incident_open(words[1:], state, ctx)
        if sub == "close" and len(words) >= 2 and (found := typed_number(words[1].lstrip("#"))):
            params = {"id": found, "note": " ".join(words[2:])}
            return Step(state, (), (Rule("incident.close", params, flow=NAME),))
        return Step(state, (Say(ctx.t("incidents.usage")),))
    if sub == "list":
        return Step(state, outage_list(ctx))
    if sub == "add":
        return _outage_add(words[1:], state, ctx)
    if sub == "cancel" and len(words) == 2 and (found := typed_number(words[1].lstrip("#"))):
        params = {"id": found}
        return Step(state, (), (Rule("outage.cancel", params, flow=NAME),))
    return Step(state, (Say(ctx.t("outages.usage")),))


def _transfer(words: list[str], state: DialogueState, ctx: Ctx) -> Step:
    from conversation.dispatcher import find_technician  # it imports this module

    if len(words) < 2:
        return Step(state, (Say(ctx.t("dispatch.usage_transfer")),))
    number = _number(words[0])
    if ctx.lookup.ticket(number) is None:
        return Step(state, (not_found(number, ctx),))
    tech = find_technician(" ".join(words[1:]), ctx)
    if tech is None:
        unknown = ctx.t("errors.unknown_technician", name=" ".join(words[1:]))
        return Step(state, (Say(f"{unknown}\n{ctx.t('dispatch.usage_transfer')}"),))
    return Step(state, (), (Act(number, Action.TRANSFER, target=tech.id, flow=NAME),))


def merge(number: str, master: str, state: DialogueState, ctx: Ctx) -> Step:
    for wanted in (number, master):
        if ctx.lookup.ticket(wanted) is None:
            return Step(state, (not_found(wanted, ctx),))
    return Step(state, (), (Act(number, Action.MERGE, target=master, flow=NAME),))


def _priority(words: list[str], state: DialogueState, ctx: Ctx) -> Step:
    if len(words) != 2:
        return Step(state, (Say(ctx.t("dispatch.usage_priority")),))
    number = _number(words[0])
    level = PRIORITY_WORDS.get(words[1].casefold())
    if level is None:
        return Step(state, (Say(ctx.t("dispatch.unknown_priority", given=words[1][:20])),))
    if ctx.lookup.ticket(number) is None:
        return Step(state, (not_found(number, ctx),))
    act = Act(number, Action.PRIORITY, data={"priority": level.value}, flow=NAME)
    return Step(state, (), (act,))


def _incident_open(words: list[str], state: DialogueState, ctx: Ctx) -> Step:
    params: dict[str, Any] = {}
    number = _number(words[0])
    if ctx.lookup.ticket(number) is not None:
        params["number"], rest = number, words[1:]
    else:
        if len(words) < 2:
            return Step(state, (Say(ctx.t("incidents.usage")),))
        area, category = find_area(words[0], ctx.config), find_category(words[1], ctx.config)
        if area is None:
            return Step(state, (Say(ctx.t("dispatch.unknown_area", area=words[0][:30])),))
        if category is None:
            return Step(state, (Say(ctx.t("dispatch.unknown_category", category=words[1][:30])),))
        params.update(area=area, category=category)
        rest = words[2:]
    eta, used = take_when(rest, ctx.now, ctx.config.timezone)
    if eta is not None:
        params["expected"] = eta.isoformat()
    params["note"] = " ".join(rest[used:])[:200]
    return Step(state, (), (Rule("incident.open", params, flow=NAME),))


def _outage_add(words: list[str], state: DialogueState, ctx: Ctx) -> Step:
    if len(words) < 4:
        return Step(state, (Say(ctx.t("outages.usage")),))
    area, category = find_area(words[0], ctx.config), find_category(words[1], ctx.config)
    if area is None:
        return Step(state, (Say(ctx.t("dispatch.unknown_area", area=words[0][:30])),))
    if category is None:
        return Step(state, (Say(ctx.t("dispatch.unknown_category", category=words[1][:30])),))
    rest = words[2:]
    # A bare time means today, as the dispatcher sees it (issue 12 item 18).
    start, used = take_when(rest, ctx.now, ctx.config.timezone, today=True)
    end, more = take_when(rest[used:], ctx.now, ctx.config.timezone, today=True)
    if start is not None and end is not None and more == 1:
        end = window_end(start, end, rest[used])
    if start is None or end is None or end <= start:
        return Step(state, (Say(f"{ctx.t('outages.bad_window')}\n{ctx.t('outages.usage')}"),))
    params = {
        "area": area,
        "category": category,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "reason": " ".join(rest[used + more :])[:200],
    }
    return Step(state, (), (Rule("outage.add", params, flow=NAME),))


# -- lists and buttons ---------------------------------------------------------------------


def incident_list(ctx: Ctx) -> tuple[Reply, ...]:
    rules = _rules(ctx)
    found = rules.incidents(IncidentState.PROPOSED, IncidentState.OPEN) if rules else []
    if rules is None or not found:
        return (Say(ctx.t("incidents.none")),)
    lines, choices = [ctx.t("incidents.title")], []
    for incident in found:
        eta = incident.expected_at
        lines.append(
            ctx.t(
                "incidents.line",
                code=incident.code,
                state=ctx.t(f"incidents.state_{incident.state.value}"),
                category=category_name(incident.category, ctx),
                area=area_name(incident.area, ctx),
                count=len(rules.linked(incident.id)),
                eta=ctx.t("incidents.line_eta", eta=_when(eta, ctx)) if eta else "",
            )
        )
        if incident.state is IncidentState.PROPOSED:
            label = f"{ctx.t('incidents.btn_open')} {incident.code}"
            choices.append(Choice(label, f"d:iopen:{incident.id}"))
        else:
            label = f"{ctx.t('incidents.btn_close')} {incident.code}"
            choices.append(Choice(label, f"d:iclose:{incident.id}"))
    return (Ask("\n".join(lines), tuple(choices), inline=True),)


def outage_list(ctx: Ctx) -> tuple[Reply, ...]:
    rules = _rules(ctx)
    found = rules.outages(ctx.now) if rules else []
    if not found:
        return (Say(ctx.t("outages.none")),)
    lines, choices = [ctx.t("outages.title")], []
    for outage in found:
        lines.append(
            ctx.t(
                "outages.line",
                code=outage.code,
                category=category_name(outage.category, ctx),
                area=area_name(outage.area, ctx),
                start=_when(outage.starts_at, ctx),
                end=_when(outage.ends_at, ctx),
                reason=outage.reason or "-",
            )
        )
        label = ctx.t("outages.btn_cancel", code=outage.code)
        choices.append(Choice(label, f"d:ocancel:{outage.id}"))
    return (Ask("\n".join(lines), tuple(choices), inline=True),)


def button(verb: str, rest: list[str], state: DialogueState, ctx: Ctx) -> Step | None:
    if verb == "merge" and len(rest) == 2 and all(rest):
        return merge(_number(rest[0]), _number(rest[1]), state, ctx)
    found = typed_number(rest[0]) if len(rest) == 1 else None
    if found is None:
        return None
    kind = {"iopen": "incident.open", "iclose": "incident.close", "ocancel": "outage.cancel"}
    return Step(state, (), (Rule(kind[verb], {"id": found}, flow=NAME),))


# -- outcomes ----------------------------------------------------------------------------------


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    """Replies for the actions of these commands; ``()`` for any other action."""
    if isinstance(action, Act) and action.action is Action.MERGE:
        master = action.target or ""
        return (Say(ctx.t("dispatch.merged", number=action.number, master=master)),)
    if isinstance(action, Act) and action.action is Action.PRIORITY:
        level = ctx.t(f"dispatch.level_{action.data.get('priority', '')}")
        return (Say(ctx.t("dispatch.priority_set", number=action.number, priority=level)),)
    if not isinstance(action, Rule):
        return ()
    params, rules = action.params, _rules(ctx)
    if action.kind == "incident.open" and rules is not None:
        found = _opened(params, ticket, rules)
        if found is None:
            return ()
        linked = rules.linked(found.id)
        text = ctx.t(
            "incidents.opened",
            code=found.code,
            category=category_name(found.category, ctx),
            area=area_name(found.area, ctx),
            eta=_when(found.expected_at, ctx),
            count=len(linked),
        )
        numbers = [r.number for r in linked if r.number]
        if numbers:
            text += "\n" + ctx.t("incidents.opened_open_tickets", numbers=", ".join(numbers))
        close = Choice(ctx.t("incidents.btn_close"), f"d:iclose:{found.id}")
        return (Ask(text, (close,), inline=True),)
    if action.kind == "incident.close":
        count = len(rules.linked(int(params["id"]))) if rules else 0
        return (Say(ctx.t("incidents.closed", code=f"#{params['id']}", count=count)),)
    if action.kind == "outage.add" and rules is not None:
        added = [o for o in rules.outages(ctx.now) if _same_outage(o, params)]
        if not added:
            return ()
        outage = max(added, key=lambda o: o.id)
        text = ctx.t(
            "outages.added",
            code=outage.code,
            category=category_name(outage.category, ctx),
            area=area_name(outage.area, ctx),
            start=_when(outage.starts_at, ctx),
            end=_when(outage.ends_at, ctx),
        )
        return (Say(text),)
    if action.kind == "outage.cancel":
        return (Say(ctx.t("outages.cancelled", code=f"#{params['id']}")),)
    return ()


def _opened(params: dict[str, Any], ticket: Ticket | None, rules: RuleLookup) -> Incident | None:
    if "id" in params:
        return rules.incident(int(params["id"]))
    if ticket is not None:
        return rules.incident_for(ticket.area, ticket.category, ticket.latitude, ticket.longitude)
    return rules.incident_for(str(params.get("area", "")), str(params.get("category", "")))


def _same_outage(outage: Outage, params: dict[str, Any]) -> bool:
    try:
        window = (datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"]))
    except (KeyError, TypeError, ValueError):
        return False
    return (outage.area, outage.category, outage.starts_at, outage.ends_at) == (
        params.get("area"),
        params.get("category"),
        *window,
    )
