"""Confirming a typed phone number by a one-time SMS code (``verify_phone = true``).

A channel whose platform gives no verified phone (the WeChat official account) may ask
for it in its ``[channels.<name>]`` table; a shared contact (Telegram's button) needs no
code. After a typed number the dialogue waits at ``phone_code``: a six-digit code goes
out by SMS (``SendCode``, queued in the step's transaction for the SMS provider), and the
person types it back. A wrong code is answered with the tries left (``MAX_TRIES``); an
expired or used-up code must be sent again; a new code may be asked for after
``RESEND_AFTER``, at most ``MAX_SENDS`` per report (an SMS costs money and must not be
sent to a stranger's phone in a loop); the number can be changed at any time.

What is kept, in the dialogue's data under ``code``: the number, the code, when it was
sent, the tries. The count of codes sent stays under ``code_sends`` for the whole report.

Pure: the time is ``ctx.now``, the code is drawn from ``ctx.random`` (the engine's draw
for this step). The flow that uses it (intake) owns the step's place in its dialogue and
passes what happens after: ``done`` (the number is confirmed) and ``again`` (ask for a
number again).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conversation.actions import SendCode
from conversation.context import Ctx
from conversation.events import InEvent, Text
from conversation.i18n import local_phone
from conversation.replies import Choice
from conversation.state import DialogueState
from conversation.step import Step

STEP = "phone_code"
DIGITS = 6
VALID_FOR = timedelta(minutes=10)
MAX_TRIES = 5
MAX_SENDS = 3
RESEND_AFTER = timedelta(seconds=60)
KEY = "code"
SENDS = "code_sends"

Prompt = Callable[[DialogueState, str], Step]
"""Shows ``state``'s question after a lead line: the owning flow's own prompt."""


def wanted(ctx: Ctx) -> bool:
    """Whether this chat's channel asks for typed numbers to be confirmed."""
    table = ctx.config.extra_channels.get(ctx.channel) or {}
    return table.get("verify_phone") is True


def begin(state: DialogueState, phone: str, ctx: Ctx, show: Prompt) -> Step:
    """Send a code to ``phone`` and wait for it (a number just typed, or a resend)."""
    sends = int(state.data.get(SENDS, 0))
    if sends >= MAX_SENDS:
        lead = ctx.t("phone_code.no_more", count=MAX_SENDS)
        return show(state, lead)
    code = f"{ctx.random % 10**DIGITS:0{DIGITS}d}"
    kept = {"phone": phone, "code": code, "sent_at": ctx.now.isoformat(), "tries": 0}
    waiting = state.to(STEP, **{KEY: kept, SENDS: sends + 1})
    minutes = int(VALID_FOR.total_seconds() // 60)
    lead = ctx.t("phone_code.sent", phone=local_phone(phone), minutes=minutes)
    shown = show(waiting, lead)
    return Step(shown.state, shown.replies, (*shown.actions, SendCode(phone, code)))


def question(data: dict[str, Any], ctx: Ctx) -> tuple[str, tuple[Choice, ...]]:
    """The question at ``phone_code`` and its choices (resend, another number)."""
    choices = (
        Choice(ctx.t("phone_code.resend"), "i:code:resend"),
        Choice(ctx.t("phone_code.change"), "i:code:change"),
    )
    return ctx.t("phone_code.ask", digits=DIGITS), choices


def typed(
    state: DialogueState,
    event: InEvent,
    ctx: Ctx,
    show: Prompt,
    done: Callable[[DialogueState, str], Step],
) -> Step:
    """A message at ``phone_code``: the code, or something else (the hint)."""
    kept = _kept(state)
    if kept is None:  # nothing pending (an old state): ask for the number again
        return show(state, "")
    text = "".join(event.text.split()) if isinstance(event, Text) else ""
    text = text.translate(_FULL_WIDTH)
    if not (text.isascii() and text.isdigit() and len(text) == DIGITS):
        return show(state, ctx.t("phone_code.not_a_code", digits=DIGITS))
    if ctx.now - _when(kept) > VALID_FOR:
        return show(state, ctx.t("phone_code.expired"))
    tries = int(kept.get("tries", 0))
    if tries >= MAX_TRIES:
        return show(state, ctx.t("phone_code.used_up"))
    if text == kept.get("code"):
        confirmed = DialogueState(state.flow, state.step, _without(state.data, KEY))
        return done(confirmed, str(kept["phone"]))
    left = MAX_TRIES - tries - 1
    after = state.to(STEP, **{KEY: {**kept, "tries": tries + 1}})
    return show(
        after, ctx.t("phone_code.wrong", left=left) if left else ctx.t("phone_code.used_up")
    )


def chosen(
    state: DialogueState,
    arg: str,
    ctx: Ctx,
    show: Prompt,
    again: Callable[[DialogueState], Step],
) -> Step:
    """A choice at ``phone_code``: ``resend`` or ``change`` (another number)."""
    kept = _kept(state)
    if arg == "change" or kept is None:
        return again(DialogueState(state.flow, state.step, _without(state.data, KEY)))
    wait = RESEND_AFTER - (ctx.now - _when(kept))
    if wait > timedelta(0):
        return show(state, ctx.t("phone_code.wait", seconds=max(1, int(wait.total_seconds()))))
    return begin(state, str(kept["phone"]), ctx, show)


def _kept(state: DialogueState) -> dict[str, Any] | None:
    kept = state.data.get(KEY)
    if not isinstance(kept, dict) or not kept.get("phone") or not kept.get("code"):
        return None
    return kept


def _when(kept: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(kept.get("sent_at")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # unreadable: long expired


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
