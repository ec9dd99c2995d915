"""/notify: how the person in a chat wants to hear about their tickets.

Three choices (``config.notify_config.PREFERENCES``): ``chat_only``; ``chat_then_sms``
(the default, ``[delivery] preference``): SMS to the phone given in the report when the
chat cannot be reached; ``sms_too``: every notice by SMS as well. ``/notify email ADDRESS``
adds an address that gets the same copies as the phone (when ``[email]`` is set up);
``/notify email off`` forgets it.

A flow module like the others (NAME, PREFIX ``n``, step/command/button/outcome), but with
no dialogue of its own: one command or one button press asks for a ``SetPreference``,
which the engine saves; ``notify.fallback`` reads it when a notice is delivered.
"""

from __future__ import annotations

import re

from config.notify_config import PREFERENCES
from conversation.actions import SetPreference, TicketAction
from conversation.context import Ctx
from conversation.events import InEvent
from conversation.replies import Ask, Choice, Reply, Say
from conversation.state import IDLE, DialogueState
from conversation.step import Step
from tickets.model import Ticket

NAME = "preferences"
PREFIX = "n"

ALIASES = {
    **{choice: choice for choice in PREFERENCES},
    "chat": "chat_only",
    "sms": "chat_then_sms",
    "fallback": "chat_then_sms",
    "both": "sms_too",
    "always": "sms_too",
}
EMAIL_OFF = frozenset({"off", "none", "-", "关闭", "取消"})
_EMAIL = re.compile(r"[^@\s:]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")


def ask(ctx: Ctx) -> Ask:
    choices = tuple(Choice(ctx.t(f"preferences.{c}"), f"{PREFIX}:set:{c}") for c in PREFERENCES)
    return Ask(ctx.t("preferences.ask"), choices, inline=True)


def command(name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if name != "notify":
        return None
    words = arg.split()
    if not words:
        return Step(state, (ask(ctx),))
    head = words[0].lower()
    if len(words) == 1 and head in ALIASES:
        return Step(state, (), (SetPreference(choice=ALIASES[head]),))
    if head == "email" and len(words) == 2:
        if not ctx.config.email.enabled:
            return Step(state, (Say(ctx.t("preferences.email_unavailable")),))
        given = words[1]
        if given.lower() in EMAIL_OFF:
            return Step(state, (), (SetPreference(email=""),))
        if _EMAIL.fullmatch(given):
            return Step(state, (), (SetPreference(email=given),))
        return Step(state, (Say(ctx.t("preferences.email_invalid", given=given[:80])),))
    return Step(state, (Say(ctx.t("preferences.usage")),))


def button(data: str, state: DialogueState, ctx: Ctx) -> Step | None:
    parts = data.split(":")
    if len(parts) == 3 and parts[:2] == [PREFIX, "set"] and parts[2] in PREFERENCES:
        return Step(state, (), (SetPreference(choice=parts[2]),))
    return None


def step(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    # No dialogue stays in this flow; a state naming it (an old build's) ends here.
    return Step(IDLE, (Say(ctx.t("preferences.usage")),))


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    if not isinstance(action, SetPreference):
        return ()
    lines: list[str] = []
    if action.choice is not None:
        lines.append(ctx.t("preferences.saved", choice=ctx.t(f"preferences.{action.choice}")))
        if action.choice != "chat_only":
            lines.append(ctx.t("preferences.sms_phone"))
    if action.email is not None:
        key = "preferences.email_saved" if action.email else "preferences.email_cleared"
        lines.append(ctx.t(key, email=action.email))
    return (Say("\n".join(lines)),) if lines else ()
