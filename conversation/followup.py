"""The reporter's follow-up of their own tickets: /my, /status, hurry (催单), add
information, cancel (撤单), confirm the fix, rate it, or say it is not fixed (重开).

A reporter sees and acts on their own tickets only (``ticket.reporter == ctx.actor.id``);
another reporter's ticket is answered with "not your ticket" and nothing of it, above
all not its phone, is shown. Steps never write: they ask for ``Act``s, the engine
performs them and ``outcome`` describes the result; refusals are worded by ``common``.

The ticket-presentation helpers at the top (number parsing, names, the details card,
the pre-check) are shared with the technician and dispatcher flows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from conversation.actions import Act, Rule, TicketAction
from conversation.context import Ctx
from conversation.events import Button, InEvent, Photo, Text
from conversation.i18n import local_phone, local_time
from conversation.replies import Ask, Choice, Reply, Say
from conversation.state import IDLE, DialogueState
from conversation.step import Step
from tickets.errors import BaoxiuError
from tickets.model import Action, Role, State, Ticket
from tickets.workflow import advance

NAME = "followup"
PREFIX = "r"
CANCELLABLE = frozenset({State.NEW, State.ASSIGNED})
RATINGS = range(1, 6)
_PROBE_NOTE = "-"  # stands in for a reason not asked yet when pre-checking an action

# -- shared presentation ------------------------------------------------------------


def normalize_number(text: str) -> str:
    """People type ``bx20261123-0007 `` as often as ``BX20261123-0007``."""
    return text.strip().upper()


def category_name(code: str, ctx: Ctx) -> str:
    leaf = ctx.config.category(code)
    if leaf is None:
        return code
    group = ctx.config.group(leaf.group)
    name = leaf.name(ctx.locale)
    return f"{group.name(ctx.locale)} / {name}" if group else name


def place(ticket: Ticket, ctx: Ctx) -> str:
    """Area, building and spot as one line; unknown codes are shown as they are."""
    area = ctx.config.area(ticket.area) if ticket.area else None
    parts: list[str] = []
    if ticket.area:
        parts.append(area.name(ctx.locale) if area else ticket.area)
    if ticket.building:
        building = area.building(ticket.building) if area else None
        parts.append(building.name(ctx.locale) if building else ticket.building)
    if ticket.spot:
        parts.append(ticket.spot)
    return " / ".join(parts)


def holder_name(ticket: Ticket, ctx: Ctx) -> str:
    if not ticket.holder:
        return ""
    tech = ctx.config.technician(ticket.holder)
    return tech.name if tech else ticket.holder


def state_name(ticket: Ticket, ctx: Ctx) -> str:
    return ctx.t(f"states.{ticket.state.value}")


def details(ticket: Ticket, ctx: Ctx, *, phone: str | None) -> str:
    """The ticket as lines of text: what, where, who, and when each step happened.

    ``phone`` is what may be shown of the reporter's phone to this person (full, masked)
    or ``None`` to leave it out; the caller decides, this function never looks at it.
    """
    tz = ctx.config.timezone

    def line(key: str, **params: Any) -> str:
        return ctx.t(f"followup.card.{key}", **params)

    lines = [
        line("title", number=ticket.number),
        line("category", category=category_name(ticket.category, ctx)),
        line("state", state=state_name(ticket, ctx)),
        line("priority", priority=ctx.t(f"followup.priority.{ticket.priority.value}")),
    ]
    if where := place(ticket, ctx):
        lines.append(line("place", place=where))
    lines.append(line("description", description=ticket.description))
    if phone:
        lines.append(line("phone", phone=phone))
    if ticket.preferred_time:
        lines.append(line("preferred", time=ticket.preferred_time))
    if ticket.holder and ticket.is_open:
        lines.append(line("holder", name=holder_name(ticket, ctx)))
    lines.append(line("created", time=local_time(ticket.created_at, tz)))
    due = _due(ticket)
    if due is not None:
        key = "overdue" if due < ctx.now else "due"
        lines.append(line(key, time=local_time(due, tz)))
    if ticket.state is State.PAUSED and ticket.pause_reason:
        lines.append(line("paused", reason=ticket.pause_reason))
    if ticket.signed_in_at is not None:
        lines.append(line("signed_in", time=local_time(ticket.signed_in_at, tz)))
    if ticket.resolved_at is not None:
        lines.append(
            line("resolved", time=local_time(ticket.resolved_at, tz), resolution=ticket.resolution)
        )
    if ticket.closed_at is not None:
        lines.append(line("closed", time=local_time(ticket.closed_at, tz)))
    if ticket.rating is not None:
        lines.append(line("rating", rating=ticket.rating, comment=ticket.comment))
    if ticket.hurry_count:
        lines.append(line("hurried", count=ticket.hurry_count))
    if ticket.reopen_count:
        lines.append(line("reopened", count=ticket.reopen_count))
    return "\n".join(lines)


def _due(ticket: Ticket) -> datetime | None:
    """The time limit that matters in the ticket's state (claim, arrive, resolve)."""
    if ticket.state is State.NEW:
        return ticket.claim_due
    if ticket.state is State.ASSIGNED:
        return ticket.arrive_due
    if ticket.state in (State.ON_SITE, State.PAUSED):
        return ticket.resolve_due
    return None


def not_found(number: str, ctx: Ctx) -> Say:
    return Say(ctx.t("errors.ticket_not_found", number=number))


def refusal(ticket: Ticket, action: Action, ctx: Ctx, **kw: Any) -> Say | None:
    """Would the domain refuse ``action`` now? Asked before a question (a reason, a note)
    so nobody types an answer only to be refused; the rules stay in ``tickets.workflow``."""
    from conversation.common import describe_error  # common imports this module

    try:
        advance(ticket, action, ctx.actor, ctx.now, **kw)
    except BaoxiuError as error:
        return Say(describe_error(error, ctx))
    return None


def conclude(act: Act, ctx: Ctx, then: DialogueState = IDLE) -> Step:
    """Ask for ``act`` as the answer to a pending question, unless the ticket moved on
    meanwhile: then say why and drop the question, which the engine would otherwise keep
    (a refused action leaves the dialogue as it was) and refuse every answer to."""
    ticket = ctx.lookup.ticket(act.number)
    if ticket is None:
        return Step(IDLE, (not_found(act.number, ctx),))
    refused = refusal(ticket, act.action, ctx, note=act.note, data=act.data, target=act.target)
    return Step(IDLE, (refused,)) if refused else Step(then, (), (act,))


def leave(state: DialogueState, flow: str) -> DialogueState:
    """After an action finishes ``flow``'s pending question: idle if that question was
    the dialogue, else whatever dialogue (a half-done report) was going on."""
    return IDLE if state.flow == flow else state


# -- the reporter's own tickets -----------------------------------------------------


def _owned(number: str, ctx: Ctx) -> Ticket | Say:
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return not_found(number, ctx)
    if ticket.reporter != ctx.actor.id:
        # Answered exactly like a number that does not exist: the answer must not tell
        # a stranger which numbers are in use.
        return not_found(number, ctx)
    return ticket


def _own(
    fn: Callable[[Ticket, DialogueState, Ctx], Step],
) -> Callable[[str, DialogueState, Ctx], Step]:
    """Run ``fn`` on the reporter's own ticket ``number``; anything else is refused."""

    @wraps(fn)
    def on_number(number: str, state: DialogueState, ctx: Ctx) -> Step:
        found = _owned(number, ctx)
        return Step(state, (found,)) if isinstance(found, Say) else fn(found, state, ctx)

    return on_number


def _act(number: str, action: Action, note: str = "", **data: Any) -> Act:
    return Act(number, action, note=note, data=data, flow=NAME)


def my_tickets(state: DialogueState, ctx: Ctx) -> Step:
    mine = [t for t in ctx.lookup.tickets_of(ctx.channel, ctx.chat) if t.reporter == ctx.actor.id]
    if not mine:
        return Step(
            state,
            (Ask(ctx.t("followup.my_empty"), (Choice(ctx.t("common.menu_report"), "c:report"),)),),
        )
    lines = [ctx.t("followup.my_title")]
    for t in mine:
        lines.append(
            ctx.t(
                "followup.my_line",
                number=t.number,
                category=category_name(t.category, ctx),
                state=state_name(t, ctx),
                time=local_time(t.created_at, ctx.config.timezone),
            )
        )
    choices = tuple(Choice(t.number, f"r:show:{t.number}") for t in mine)
    return Step(state, (Ask("\n".join(lines), choices, inline=True),))


@_own
def show(found: Ticket, state: DialogueState, ctx: Ctx) -> Step:
    return Step(state, (_status_card(found, ctx),))


def _status_card(ticket: Ticket, ctx: Ctx) -> Reply:
    text = details(ticket, ctx, phone=local_phone(ticket.phone))
    n = ticket.number
    choices: list[Choice] = []
    if ticket.is_open:
        choices.append(Choice(ctx.t("followup.btn_hurry"), f"r:hurry:{n}"))
        choices.append(Choice(ctx.t("followup.btn_info"), f"r:info:{n}"))
        if ticket.state in CANCELLABLE:
            choices.append(Choice(ctx.t("followup.btn_cancel"), f"r:cancel:{n}"))
    elif ticket.state is State.RESOLVED:
        choices.append(Choice(ctx.t("followup.btn_confirm"), f"r:confirm:{n}"))
        choices.append(Choice(ctx.t("followup.btn_reopen"), f"r:reopen:{n}"))
        choices.extend(_rating_choices(n, ctx))
    elif ticket.state is State.CLOSED and ticket.rating is None:
        choices.extend(_rating_choices(n, ctx))
    return Ask(text, tuple(choices), inline=True) if choices else Say(text)


def _rating_choices(number: str, ctx: Ctx) -> tuple[Choice, ...]:
    return tuple(
        Choice(ctx.t("followup.btn_rate", stars=k), f"r:rate:{number}:{k}") for k in RATINGS
    )


@_own
def hurry(found: Ticket, state: DialogueState, ctx: Ctx) -> Step:
    return Step(state, (), (_act(found.number, Action.HURRY),))


@_own
def ask_info(found: Ticket, state: DialogueState, ctx: Ctx) -> Step:
    refused = refusal(found, Action.ADD_INFO, ctx, note=_PROBE_NOTE)
    if refused:
        return Step(state, (refused,))
    asked = Say(ctx.t("followup.info_ask", number=found.number))
    return Step(DialogueState(NAME, "info", {"number": found.number}), (asked,))


@_own
def ask_cancel(found: Ticket, state: DialogueState, ctx: Ctx) -> Step:
    if found.state not in CANCELLABLE:
        return Step(state, (Say(_why_not_cancel(found, ctx)),))
    n = found.number
    question = Ask(
        ctx.t("followup.cancel_ask", number=n),
        (
            Choice(ctx.t("followup.btn_cancel_yes"), f"r:cancel:{n}:yes"),
            Choice(ctx.t("followup.btn_cancel_no"), f"r:cancel:{n}:no"),
        ),
        inline=True,
    )
    return Step(state, (question,))


def _why_not_cancel(ticket: Ticket, ctx: Ctx) -> str:
    if ticket.state in (State.ON_SITE, State.PAUSED):
        key = "followup.cancel_working"
    elif ticket.state is State.RESOLVED:
        key = "followup.cancel_resolved"
    else:
        key = "followup.cancel_finished"
    return ctx.t(key, number=ticket.number, state=state_name(ticket, ctx))


def cancel(number: str, answer: str, state: DialogueState, ctx: Ctx) -> Step:
    found = _owned(number, ctx)
    if isinstance(found, Say):
        return Step(state, (found,))
    if answer == "no":
        return Step(state, (Say(ctx.t("followup.cancel_kept", number=found.number)),))
    if found.state not in CANCELLABLE:
        return Step(state, (Say(_why_not_cancel(found, ctx)),))
    return Step(state, (), (_act(found.number, Action.CANCEL),))


@_own
def confirm(found: Ticket, state: DialogueState, ctx: Ctx) -> Step:
    return Step(state, (), (_act(found.number, Action.CONFIRM),))


def rate(number: str, stars: str, skip: bool, state: DialogueState, ctx: Ctx) -> Step:
    """A star button: ask for an optional comment, or (Skip) rate at once."""
    rating = int(stars) if stars.isdecimal() and len(stars) == 1 else 0
    if rating not in RATINGS:
        return Step(state, (Say(ctx.t("errors.rating_range")),))
    found = _owned(number, ctx)
    if isinstance(found, Say):
        return Step(state, (found,))
    refused = refusal(found, Action.RATE, ctx, data={"rating": rating})
    if refused:
        return Step(state, (refused,))
    if skip:
        return Step(leave(state, NAME), (), (_act(found.number, Action.RATE, rating=rating),))
    question = Ask(
        ctx.t("followup.comment_ask", rating=rating),
        (Choice(ctx.t("followup.btn_skip"), f"r:rate:{found.number}:{rating}:skip"),),
        inline=True,
    )
    new = DialogueState(NAME, "comment", {"number": found.number, "rating": rating})
    return Step(new, (question,))


def redraw(state: DialogueState, ctx: Ctx) -> tuple[Reply, ...]:
    """The current question with its buttons again (after a language switch)."""
    if state.step != "comment":
        return ()
    number, rating = str(state.data.get("number", "")), state.data.get("rating", 0)
    skip = Choice(ctx.t("followup.btn_skip"), f"r:rate:{number}:{rating}:skip")
    return (Ask(ctx.t("followup.comment_ask", rating=rating), (skip,), inline=True),)


@_own
def ask_reopen(found: Ticket, state: DialogueState, ctx: Ctx) -> Step:
    # Closed is too late to reopen: the answer becomes a follow-up task (``step``).
    closed = found.state is State.CLOSED
    refused = None if closed else refusal(found, Action.REOPEN, ctx, note=_PROBE_NOTE)
    if refused:
        return Step(state, (refused,))
    asked = Say(ctx.t("followup.reopen_ask", number=found.number))
    data = {"number": found.number, **({"closed": True} if closed else {})}
    return Step(DialogueState(NAME, "reopen", data), (asked,))


# -- the flow shape -------------------------------------------------------------------

_BY_NUMBER = {
    "show": show,
    "hurry": hurry,
    "info": ask_info,
    "cancel": ask_cancel,
    "confirm": confirm,
    "reopen": ask_reopen,
}


def command(name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if name == "my":
        return my_tickets(state, ctx)
    # Technicians and dispatchers have their own /status and /cancel.
    if name in ("status", "cancel") and ctx.role is not Role.REPORTER:
        return None
    if name not in ("status", "hurry", "cancel"):
        return None
    number = normalize_number(arg)
    if not number:
        if name == "status":
            return my_tickets(state, ctx)
        return Step(state, (Say(ctx.t("followup.usage", name=name)),))
    if name == "status":
        return show(number, state, ctx)
    if name == "hurry":
        return hurry(number, state, ctx)
    return ask_cancel(number, state, ctx)


def button(data: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if data == "r:done":
        if state.flow == NAME and state.step == "info":
            return Step(IDLE, (Say(ctx.t("followup.info_done")),))
        return None
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != PREFIX or not parts[2].strip():
        return None
    verb, number, rest = parts[1], normalize_number(parts[2]), parts[3:]
    if verb in _BY_NUMBER and not rest:
        return _BY_NUMBER[verb](number, state, ctx)
    if verb == "cancel" and rest in (["yes"], ["no"]):
        return cancel(number, rest[0], state, ctx)
    if verb == "rate" and len(rest) == 1:
        return rate(number, rest[0], False, state, ctx)
    if verb == "rate" and len(rest) == 2 and rest[1] == "skip":
        return rate(number, rest[0], True, state, ctx)
    return None


def step(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    """Answers to a pending question: extra information, a comment, what is still wrong."""
    number = str(state.data.get("number", ""))
    text = event.text.strip() if isinstance(event, Text) else ""
    if state.step == "info":
        if text:
            return conclude(_act(number, Action.ADD_INFO, text), ctx)
        if isinstance(event, Photo):
            act = _act(number, Action.ADD_INFO, event.caption.strip(), photos=[event.ref])
            return conclude(act, ctx, then=state)  # an album arrives as several photos
        return Step(state, (Say(ctx.t("followup.info_hint", number=number)),))
    if state.step == "comment":
        if text:
            rating = int(state.data.get("rating", 0))
            return conclude(_act(number, Action.RATE, text, rating=rating), ctx)
        return Step(state, (Say(ctx.t("followup.comment_hint")),))
    if state.step == "reopen":
        said = text or (event.caption.strip() if isinstance(event, Photo) else "")
        if said and state.data.get("closed"):  # asked of a closed ticket (``ask_reopen``)
            request = Rule("followup.request", {"number": number, "note": said}, NAME)
            return Step(IDLE, (), (request,))
        if said:
            return conclude(_act(number, Action.REOPEN, said), ctx)
        return Step(state, (Say(ctx.t("followup.reopen_hint", number=number)),))
    if isinstance(event, Button):
        return Step(IDLE, (Say(ctx.t("common.stale_button")),))
    return Step(IDLE, (Say(ctx.t("followup.step_lost")),))


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    if isinstance(action, Rule) and action.kind == "followup.request":
        return (Say(ctx.t("followup.follow_up_requested", number=action.params["number"])),)
    if not isinstance(action, Act):
        return ()
    n = ticket.number if ticket else action.number
    match action.action:
        case Action.HURRY:
            return (Say(ctx.t("followup.hurried", number=n)),)
        case Action.ADD_INFO if action.data.get("photos"):
            more = Choice(ctx.t("followup.btn_done"), "r:done")
            return (Ask(ctx.t("followup.photo_added", number=n), (more,), inline=True),)
        case Action.ADD_INFO:
            return (Say(ctx.t("followup.info_added", number=n)),)
        case Action.CANCEL:
            return (Say(ctx.t("followup.cancelled", number=n)),)
        case Action.CONFIRM:
            # No second set of stars: the message that offered the confirmation offered
            # the rating too (the resolved notice, the status card), one widget for both.
            return (Say(ctx.t("followup.confirmed", number=n)),)
        case Action.RATE:
            return (Say(ctx.t("followup.rated", number=n)),)
        case Action.REOPEN:
            return (Say(ctx.t("followup.reopened", number=n)),)
    return ()
