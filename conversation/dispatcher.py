"""The dispatcher's chat commands: /queue (tickets nobody holds), a ticket's details,
assign (派工) or reassign (转派) it to a technician, and cancel it (撤单) with a reason;
/transfer, /merge, /priority, /incident and /outage are ``dispatch_rules``', /followup
``dispatch_followup``'s.

Only a chat bound to a configured dispatcher (``ctx.role is DISPATCHER``) may use it.
The web console does the rest (statistics). Steps never write:
they ask for ``Act``s, the engine performs them and ``outcome`` describes the result;
refusals are worded by ``common``.
"""

from __future__ import annotations

from config.model import Technician
from conversation import dispatch_followup, dispatch_rules
from conversation.actions import Act, TicketAction
from conversation.context import Ctx
from conversation.events import Button, InEvent, Text
from conversation.followup import (
    category_name,
    conclude,
    details,
    normalize_number,
    not_found,
    place,
    refusal,
)
from conversation.i18n import local_phone
from conversation.replies import Ask, Choice, Reply, Say, ShowPhotos
from conversation.state import IDLE, DialogueState
from conversation.step import Step
from tickets.model import Action, Role, State, Ticket

NAME = "dispatcher"
PREFIX = "d"
CANCELLABLE = frozenset({State.NEW, State.ASSIGNED})
TRANSFERABLE = frozenset({State.ASSIGNED, State.ON_SITE, State.PAUSED})
_PROBE_NOTE = "-"  # stands in for the reason not asked yet when pre-checking


def _not_dispatcher(ctx: Ctx) -> Say | None:
    if ctx.role is Role.DISPATCHER and ctx.person:
        return None
    return Say(ctx.t("dispatcher.only"))


def age(ticket: Ticket, ctx: Ctx) -> str:
    """How long the ticket has waited, in the largest two units that matter."""
    minutes = max(0, int((ctx.now - ticket.created_at).total_seconds() // 60))
    hours, days = minutes // 60, minutes // 1440
    if days:
        return ctx.t("dispatcher.age_days", days=days, hours=hours % 24)
    if hours:
        return ctx.t("dispatcher.age_hours", hours=hours, minutes=minutes % 60)
    return ctx.t("dispatcher.age_minutes", minutes=minutes)


def menu(ctx: Ctx) -> tuple[Reply, ...]:
    """The idle menu is the queue: it is what a dispatcher comes back for."""
    refused = _not_dispatcher(ctx)
    return (refused,) if refused else queue(ctx)


def queue(ctx: Ctx) -> tuple[Reply, ...]:
    waiting = list(ctx.lookup.queue())
    if not waiting:
        return (Say(ctx.t("dispatcher.queue_empty")),)
    lines = [ctx.t("dispatcher.queue_title", count=len(waiting))]
    for t in waiting:
        lines.append(
            ctx.t(
                "dispatcher.queue_line",
                number=t.number,
                category=category_name(t.category, ctx),
                place=place(t, ctx) or "-",
                age=age(t, ctx),
            )
        )
    choices = tuple(Choice(t.number, f"d:show:{t.number}") for t in waiting)
    return (Ask("\n".join(lines), choices, inline=True),)


def card(ticket: Ticket, ctx: Ctx) -> tuple[Reply, ...]:
    text = details(ticket, ctx, phone=local_phone(ticket.phone))
    n = ticket.number
    choices: list[Choice] = []
    if ticket.state is State.NEW:
        choices.append(Choice(ctx.t("dispatcher.btn_assign"), f"d:assign:{n}"))
    elif ticket.state in TRANSFERABLE:
        choices.append(Choice(ctx.t("dispatcher.btn_reassign"), f"d:assign:{n}"))
    if ticket.state in CANCELLABLE:
        choices.append(Choice(ctx.t("dispatcher.btn_cancel"), f"d:cancel:{n}"))
    replies: list[Reply] = []
    if ticket.photos:
        replies.append(ShowPhotos(ticket.photos, ctx.t("dispatcher.photos", number=n)))
    replies.append(Ask(text, tuple(choices), inline=True) if choices else Say(text))
    return tuple(replies)


def show(number: str, state: DialogueState, ctx: Ctx) -> Step:
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return Step(state, (not_found(number, ctx),))
    return Step(state, card(ticket, ctx))


def find_technician(given: str, ctx: Ctx) -> Technician | None:
    """By id (any case) or by exact name."""
    wanted = given.strip()
    for tech in ctx.config.technicians:
        if tech.id.lower() == wanted.lower() or tech.name == wanted:
            return tech
    return None


def _technician_list(ctx: Ctx) -> str:
    lines = [ctx.t("dispatcher.technicians")]
    lines.extend(
        ctx.t("dispatcher.technician_line", id=t.id, name=t.name) for t in ctx.config.technicians
    )
    return "\n".join(lines)


def _assign_action(ticket: Ticket) -> Action:
    """A new ticket is assigned; one somebody is working on is transferred."""
    return Action.TRANSFER if ticket.state in TRANSFERABLE else Action.ASSIGN


def assign(number: str, who: str, state: DialogueState, ctx: Ctx) -> Step:
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return Step(state, (not_found(number, ctx),))
    tech = find_technician(who, ctx)
    if tech is None:
        unknown = ctx.t("errors.unknown_technician", name=who)
        return Step(state, (Say(f"{unknown}\n{_technician_list(ctx)}"),))
    act = Act(ticket.number, _assign_action(ticket), target=tech.id, flow=NAME)
    return Step(state, (), (act,))


def choose_technician(number: str, state: DialogueState, ctx: Ctx) -> Step:
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return Step(state, (not_found(number, ctx),))
    action = _assign_action(ticket)
    refused = refusal(ticket, action, ctx, target="-")
    if refused:
        return Step(state, (refused,))
    if not ctx.config.technicians:
        return Step(state, (Say(ctx.t("dispatcher.no_technicians")),))
    team = ctx.config.team(ticket.team)
    members = set(team.members) if team else set()
    # The ticket's own team first (in configured order): they are the ones for the job.
    ordered = sorted(ctx.config.technicians, key=lambda t: t.id not in members)
    choices = tuple(
        Choice(t.name, f"d:to:{ticket.number}:{t.id}") for t in ordered if t.id != ticket.holder
    )
    question = ctx.t("dispatcher.choose_technician", number=ticket.number)
    return Step(state, (Ask(question, choices, inline=True),))


def ask_cancel(number: str, state: DialogueState, ctx: Ctx) -> Step:
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return Step(state, (not_found(number, ctx),))
    refused = refusal(ticket, Action.CANCEL, ctx, note=_PROBE_NOTE)
    if refused:
        return Step(state, (refused,))
    asked = Say(ctx.t("dispatcher.cancel_ask", number=ticket.number))
    return Step(DialogueState(NAME, "cancel", {"number": ticket.number}), (asked,))


# -- the flow shape -------------------------------------------------------------------


def command(name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if name not in ("queue", "assign", "status", "cancel", "followup") and (
        name not in dispatch_rules.COMMANDS
    ):
        return None
    refused = _not_dispatcher(ctx)
    if refused:
        # Reporters' /status and /cancel NUMBER, and technicians' /status, were answered
        # by their own flows before this one is asked.
        return Step(state, (refused,))
    if name in dispatch_rules.COMMANDS:
        return dispatch_rules.command(name, arg, state, ctx)
    if name == "queue":
        return Step(state, queue(ctx))
    if name == "followup":
        return dispatch_followup.command(arg, state, ctx)
    head, _, rest = arg.strip().partition(" ")
    number = normalize_number(head)
    if not number:
        return Step(state, (Say(ctx.t(f"dispatcher.usage_{name}")),))
    if name == "status":
        return show(number, state, ctx)
    if name == "cancel":
        return ask_cancel(number, state, ctx)
    if not rest.strip():
        return Step(state, (Say(f"{ctx.t('dispatcher.usage_assign')}\n{_technician_list(ctx)}"),))
    return assign(number, rest, state, ctx)


def button(data: str, state: DialogueState, ctx: Ctx) -> Step | None:
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != PREFIX or not parts[2].strip():
        return None
    refused = _not_dispatcher(ctx)
    if refused:
        return Step(state, (refused,))
    if parts[1] in dispatch_rules.BUTTONS:
        return dispatch_rules.button(parts[1], parts[2:], state, ctx)
    verb, number, rest = parts[1], normalize_number(parts[2]), parts[3:]
    if verb == "show" and not rest:
        return show(number, state, ctx)
    if verb == "assign" and not rest:
        return choose_technician(number, state, ctx)
    if verb == "to" and len(rest) == 1 and rest[0]:
        return assign(number, rest[0], state, ctx)
    if verb == "cancel" and not rest:
        return ask_cancel(number, state, ctx)
    if verb == "fu" and not rest:
        return dispatch_followup.ask(number, state, ctx)
    return None


def step(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    """The pending questions: why a ticket is cancelled, what a follow-up call found."""
    number = str(state.data.get("number", ""))
    if state.step == dispatch_followup.STEP:
        text = event.text.strip() if isinstance(event, Text) else ""
        return dispatch_followup.step(state, text, ctx)
    if state.step == "cancel":
        text = event.text.strip() if isinstance(event, Text) else ""
        if text:
            return conclude(Act(number, Action.CANCEL, note=text, flow=NAME), ctx)
        return Step(state, (Say(ctx.t("dispatcher.cancel_hint", number=number)),))
    if isinstance(event, Button):
        return Step(IDLE, (Say(ctx.t("common.stale_button")),))
    return Step(IDLE, (Say(ctx.t("dispatcher.step_lost")),))


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    ruled = dispatch_rules.outcome(action, ticket, ctx) or dispatch_followup.outcome(
        action, ticket, ctx
    )
    if ruled or not isinstance(action, Act):
        return ruled
    n = ticket.number if ticket else action.number
    tech = ctx.config.technician(action.target or "")
    name = tech.name if tech else action.target or ""
    match action.action:
        case Action.ASSIGN:
            return (Say(ctx.t("dispatcher.assigned", number=n, name=name)),)
        case Action.TRANSFER:
            return (Say(ctx.t("dispatcher.transferred", number=n, name=name)),)
        case Action.CANCEL:
            return (Say(ctx.t("dispatcher.cancelled", number=n)),)
    return ()
