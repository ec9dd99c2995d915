"""The one entry point of the dialogues: ``step(state, event, ctx) -> Step``.

It applies the rules that hold everywhere (text length limit, unsupported input,
/start /help /cancel /lang, button prefixes) and hands everything else to the flow
the dialogue is in, or to the idle menu of the person's role.
"""

from __future__ import annotations

from types import ModuleType

from conversation import common, dispatcher, followup, intake, preferences, technician
from conversation.actions import CreateTicket, TicketAction
from conversation.context import Ctx
from conversation.events import Button, Command, InEvent, Photo, Text, Unsupported
from conversation.replies import Ask, Reply, Say
from conversation.state import DialogueState
from conversation.step import Step
from tickets.errors import BaoxiuError
from tickets.model import Ticket

MAX_TEXT = 1000
"""Longest text accepted in one message; longer is refused with this limit named."""

FLOWS: dict[str, ModuleType] = {
    intake.NAME: intake,
    followup.NAME: followup,
    technician.NAME: technician,
    dispatcher.NAME: dispatcher,
    preferences.NAME: preferences,
}
BY_PREFIX: dict[str, ModuleType] = {m.PREFIX: m for m in (*FLOWS.values(), common)}


PHOTO_STEPS = frozenset(
    {
        (intake.NAME, "description"),
        (intake.NAME, "photos"),
        (technician.NAME, "done_note"),
        (technician.NAME, "done_photos"),
        (followup.NAME, "info"),
        (followup.NAME, "reopen"),
    }
)
"""The dialogue steps that take a photo; an adapter refuses an upload anywhere else
before writing it to disk (an idle session once filled the disk with 120 photos)."""


def wants_photo(state: DialogueState) -> bool:
    return (state.flow, state.step) in PHOTO_STEPS


def step(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    text = (
        event.text if isinstance(event, Text) else event.caption if isinstance(event, Photo) else ""
    )
    if len(text) > MAX_TEXT:
        return Step(state, (Say(ctx.t("common.too_long", limit=MAX_TEXT, length=len(text))),))

    if isinstance(event, Command):
        handled = common.command(event.name, event.arg, state, ctx)
        if handled is not None:
            return handled
        for module in FLOWS.values():
            handled = module.command(event.name, event.arg, state, ctx)
            if handled is not None:
                return handled
        return Step(state, (Say(ctx.t("common.unknown_command", name=event.name)),))

    if isinstance(event, Button):
        owner = BY_PREFIX.get(event.data.split(":", 1)[0])
        if owner is not None:
            handled = owner.button(event.data, state, ctx)
            if handled is not None:
                return handled

    if isinstance(event, Unsupported) and state.flow in FLOWS:
        return _unsupported(state, event, ctx)
    if state.flow in FLOWS:
        return FLOWS[state.flow].step(state, event, ctx)

    if isinstance(event, Unsupported):
        return Step(state, (Say(ctx.t("common.unsupported")),))
    if isinstance(event, Text):
        # A reply keyboard sends its label back as text: treat it as the button.
        picked = _menu_choice(event.text, ctx)
        if picked is not None:
            return step(state, Button(picked), ctx)
    return common.idle(state, event, ctx)


def _unsupported(state: DialogueState, event: Unsupported, ctx: Ctx) -> Step:
    """A sticker or voice note mid-dialogue: say plainly that it is not supported here
    (the documented answer), then the question again; nothing else changes."""
    said = ctx.t("common.unsupported")
    if state.flow == intake.NAME:
        return Step(state, intake.redraw(state, ctx, said))
    handled = FLOWS[str(state.flow)].step(state, event, ctx)
    if handled.actions or handled.state != state:
        return Step(state, (Say(said),))
    return Step(state, (Say(said), *handled.replies))


def _menu_choice(text: str, ctx: Ctx) -> str | None:
    wanted = text.strip()
    for reply in common.menu(ctx):
        if isinstance(reply, Ask):
            for choice in reply.choices:
                if choice.label == wanted:
                    return choice.data
    return None


def menu(ctx: Ctx) -> tuple[Reply, ...]:
    """The idle menu of the person's role (shown when a chat is opened)."""
    return common.menu(ctx)


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    """Replies describing an action the engine performed."""
    module = FLOWS.get(action.flow, common)
    said = tuple(module.outcome(action, ticket, ctx))
    if isinstance(action, CreateTicket) and action.flow == intake.NAME:
        # The report is done: offer the menu, so there is a way on without typing /report.
        return (*said, *common.menu(ctx))
    return said


def refused(action: TicketAction, error: BaoxiuError, ctx: Ctx) -> tuple[Reply, ...]:
    """Replies for an action the domain refused; the dialogue state is kept."""
    return (Say(common.describe_error(error, ctx)),)
