"""The dispatcher's follow-up tasks (回访) in chat: ``/followup`` lists the open ones (a
low rating, "not fixed" after a fix or after the ticket closed), ``/followup NUMBER
OUTCOME`` or the ``d:fu:N`` button and then the outcome typed records it
(``Action.FOLLOW_UP``, which closes the task in the store).

``conversation.dispatcher`` hands these over after checking that the chat belongs to a
dispatcher. Steps never write: they ask for an ``Act``; the tasks are read through
``ctx.lookup`` when it can answer (the store can).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from conversation.actions import Act, TicketAction
from conversation.context import Ctx
from conversation.followup import conclude, normalize_number, not_found, refusal
from conversation.i18n import local_time
from conversation.replies import Ask, Choice, Reply, Say
from conversation.state import DialogueState
from conversation.step import Step
from tickets.model import Action, Ticket

NAME = "dispatcher"
STEP = "followup"
_PROBE_NOTE = "-"  # stands in for the outcome not asked yet when pre-checking


class Task(Protocol):
    @property
    def number(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def opened_at(self) -> datetime: ...


@runtime_checkable
class FollowUpLookup(Protocol):
    """What the store answers about follow-up tasks (``tickets.dispatch_store``)."""

    def follow_ups(self, *, status: str | None = "open") -> list[Task]: ...


def task_list(ctx: Ctx) -> tuple[Reply, ...]:
    tasks = ctx.lookup.follow_ups() if isinstance(ctx.lookup, FollowUpLookup) else []
    if not tasks:
        return (Say(ctx.t("dispatch.followup_none")),)
    lines, choices = [ctx.t("dispatch.followup_title", count=len(tasks))], []
    for task in tasks:
        reason = ctx.t(f"dispatch.followup_reason_{task.reason}")
        when = local_time(task.opened_at, ctx.config.timezone)
        lines.append(ctx.t("dispatch.followup_line", number=task.number, reason=reason, time=when))
        label = ctx.t("dispatch.followup_btn", number=task.number)
        choices.append(Choice(label, f"d:fu:{task.number}"))
    return (Ask("\n".join(lines), tuple(choices), inline=True),)


def command(arg: str, state: DialogueState, ctx: Ctx) -> Step:
    head, _, rest = arg.strip().partition(" ")
    if not head:
        return Step(state, task_list(ctx))
    number = normalize_number(head)
    if not rest.strip():
        return ask(number, state, ctx)
    if ctx.lookup.ticket(number) is None:
        return Step(state, (not_found(number, ctx),))
    return Step(state, (), (_act(number, rest.strip()),))


def ask(number: str, state: DialogueState, ctx: Ctx) -> Step:
    """The button (or ``/followup NUMBER``): ask for the outcome, unless it would be refused."""
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return Step(state, (not_found(number, ctx),))
    refused = refusal(ticket, Action.FOLLOW_UP, ctx, note=_PROBE_NOTE)
    if refused:
        return Step(state, (refused,))
    asked = Say(ctx.t("dispatch.followup_ask", number=ticket.number))
    return Step(DialogueState(NAME, STEP, {"number": ticket.number}), (asked,))


def step(state: DialogueState, text: str, ctx: Ctx) -> Step:
    number = str(state.data.get("number", ""))
    if text:
        return conclude(_act(number, text), ctx)
    return Step(state, (Say(ctx.t("dispatch.followup_hint", number=number)),))


def _act(number: str, outcome_text: str) -> Act:
    return Act(number, Action.FOLLOW_UP, note=outcome_text[:1000], flow=NAME)


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    if isinstance(action, Act) and action.action is Action.FOLLOW_UP:
        return (Say(ctx.t("dispatch.followup_done", number=action.number)),)
    return ()
