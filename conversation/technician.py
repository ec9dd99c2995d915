"""The technician's job flow: /jobs (held and offered), the job card, claim (抢单),
acknowledge an assigned job (接单确认, a button on the card), sign in on site (签到)
with a shared location, pause (挂起) with a reason, resume, complete
(完成) with a note and up to four photos, and hand the job back (退单).

Only a chat bound to a configured technician (``ctx.role is TECHNICIAN``) may use it.
The reporter's full phone is shown to the job's holder only; team members who look at
an offered job see it masked. Steps never write: they ask for ``Act``s, the engine
performs them and ``outcome`` describes the result; refusals are worded by ``common``.
"""

from __future__ import annotations

import math
from typing import Any

from conversation.actions import Act, TicketAction
from conversation.context import Ctx
from conversation.events import Button, InEvent, Location, Photo, Text
from conversation.followup import (
    category_name,
    conclude,
    details,
    leave,
    normalize_number,
    not_found,
    place,
    refusal,
    state_name,
)
from conversation.i18n import local_phone, mask_phone
from conversation.replies import (
    Ask,
    Choice,
    RemoveKeyboard,
    Reply,
    RequestLocation,
    Say,
    ShowPhotos,
)
from conversation.state import IDLE, DialogueState
from conversation.step import Step
from tickets.model import Action, Role, Ticket
from tickets.workflow import MAX_PHOTOS, allowed_actions

NAME = "technician"
PREFIX = "t"
LIST_LIMIT = 10
"""Jobs listed (and buttons shown) per section of /jobs; chat keyboards get unwieldy."""
REASONS = ("parts", "access")
"""Pause reasons offered as buttons (等配件, 无法进入); anything else is typed."""
EARTH_RADIUS_M = 6_371_008.8

# Buttons of the job card, in the order shown, for the actions the workflow allows.
_CARD_BUTTONS = (
    (Action.CLAIM, "claim"),
    (Action.ACKNOWLEDGE, "ack"),
    (Action.SIGN_IN, "signin"),
    (Action.RESUME, "resume"),
    (Action.RESOLVE, "done"),
    (Action.PAUSE, "pause"),
    (Action.RELEASE, "release"),
)
_PROBE_NOTE = "-"  # stands in for a reason not asked yet when pre-checking an action


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _not_technician(ctx: Ctx) -> Say | None:
    if ctx.role is Role.TECHNICIAN and ctx.person:
        return None
    return Say(ctx.t("technician.only"))


def _act(number: str, action: Action, note: str = "", **data: Any) -> Act:
    return Act(number, action, note=note, data=data, flow=NAME)


# -- what a technician sees -----------------------------------------------------------


def menu(ctx: Ctx) -> tuple[Reply, ...]:
    """The idle menu is the job list: it is what a technician comes back for."""
    refused = _not_technician(ctx)
    return (refused,) if refused else jobs(ctx)


def jobs(ctx: Ctx) -> tuple[Reply, ...]:
    person = ctx.person or ""
    mine = list(ctx.lookup.jobs_of(person))[:LIST_LIMIT]
    offered = list(ctx.lookup.offered_to(person))[:LIST_LIMIT]
    lines: list[str] = []
    choices: list[Choice] = []
    if mine:
        lines.append(ctx.t("technician.mine_title", count=len(mine)))
        lines.extend(_line(t, ctx) for t in mine)
        choices.extend(Choice(t.number, f"t:show:{t.number}") for t in mine)
    else:
        lines.append(ctx.t("technician.mine_empty"))
    if offered:
        lines.append(ctx.t("technician.offered_title", count=len(offered)))
        lines.extend(_line(t, ctx) for t in offered)
        choices.extend(
            Choice(ctx.t("technician.btn_claim_number", number=t.number), f"t:claim:{t.number}")
            for t in offered
        )
    else:
        lines.append(ctx.t("technician.offered_empty"))
    text = "\n".join(lines)
    return (Ask(text, tuple(choices), inline=True) if choices else Say(text),)


def _line(ticket: Ticket, ctx: Ctx) -> str:
    return ctx.t(
        "technician.job_line",
        number=ticket.number,
        category=category_name(ticket.category, ctx),
        state=state_name(ticket, ctx),
        place=place(ticket, ctx) or "-",
    )


def card(ticket: Ticket, ctx: Ctx) -> tuple[Reply, ...]:
    """The job card: every detail, the reporter's photos and the buttons that apply now."""
    held = ticket.holder is not None and ticket.holder == ctx.person
    phone = local_phone(ticket.phone) if held else mask_phone(ticket.phone)
    text = details(ticket, ctx, phone=phone)
    allowed = set(allowed_actions(ticket, ctx.actor))
    if not ctx.config.flow.receipt:
        allowed.discard(Action.ACKNOWLEDGE)
    choices = tuple(
        Choice(_label(verb, ctx), f"t:{verb}:{ticket.number}")
        for action, verb in _CARD_BUTTONS
        if action in allowed
    )
    replies: list[Reply] = []
    if ticket.photos:
        replies.append(ShowPhotos(ticket.photos, ctx.t("technician.photos", number=ticket.number)))
    replies.append(Ask(text, choices, inline=True) if choices else Say(text))
    return tuple(replies)


def _label(verb: str, ctx: Ctx) -> str:
    return ctx.t("receipt.btn_ack") if verb == "ack" else ctx.t(f"technician.btn_{verb}")


def _visible(number: str, ctx: Ctx) -> Ticket | Say:
    """The job if this technician holds it or it belongs to one of their teams."""
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return not_found(number, ctx)
    if ticket.holder != ctx.person and ticket.team not in ctx.actor.teams:
        return Say(ctx.t("errors.not_holder", number=ticket.number))
    return ticket


def show(number: str, state: DialogueState, ctx: Ctx) -> Step:
    found = _visible(number, ctx)
    return Step(state, (found,) if isinstance(found, Say) else card(found, ctx))


# -- job actions -------------------------------------------------------------------------


def _checked(number: str, action: Action, ctx: Ctx) -> Ticket | Say:
    """The ticket if ``action`` would be accepted now (a reason stands in for the one
    still to be asked), else the refusal to show at once."""
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return not_found(number, ctx)
    return refusal(ticket, action, ctx, note=_PROBE_NOTE) or ticket


def claim(number: str, state: DialogueState, ctx: Ctx) -> Step:
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return Step(state, (not_found(number, ctx),))
    return Step(state, (), (_act(ticket.number, Action.CLAIM),))


def acknowledge(number: str, state: DialogueState, ctx: Ctx) -> Step:
    """接单: the holder confirms he has the assigned job (the workflow checks it)."""
    ticket = ctx.lookup.ticket(number) if number else None
    if ticket is None:
        return Step(state, (not_found(number, ctx),))
    return Step(state, (), (_act(ticket.number, Action.ACKNOWLEDGE),))


def ask_sign_in(number: str, state: DialogueState, ctx: Ctx) -> Step:
    found = _checked(number, Action.SIGN_IN, ctx)
    if isinstance(found, Say):
        return Step(state, (found,))
    n = found.number
    without = Choice(ctx.t("technician.btn_no_location"), f"t:here:{n}")
    replies: tuple[Reply, ...]
    if ctx.can_share_location:
        replies = (
            RequestLocation(
                ctx.t("technician.signin_ask", number=n), ctx.t("technician.btn_share_location")
            ),
            Ask(ctx.t("technician.signin_or"), (without,), inline=True),
        )
    else:
        replies = (Ask(ctx.t("technician.signin_ask_plain", number=n), (without,), inline=True),)
    return Step(DialogueState(NAME, "signin", {"number": n}), replies)


def sign_in(number: str, where: Location | None, state: DialogueState, ctx: Ctx) -> Step:
    data: dict[str, Any] = {}
    if where is not None:
        data = {"latitude": where.latitude, "longitude": where.longitude}
        ticket = ctx.lookup.ticket(number)
        if ticket is not None and ticket.latitude is not None and ticket.longitude is not None:
            metres = distance_m(ticket.latitude, ticket.longitude, where.latitude, where.longitude)
            data["distance_m"] = round(metres, 1)
    return conclude(_act(number, Action.SIGN_IN, **data), ctx, then=leave(state, NAME))


def ask_pause(number: str, state: DialogueState, ctx: Ctx) -> Step:
    found = _checked(number, Action.PAUSE, ctx)
    if isinstance(found, Say):
        return Step(state, (found,))
    n = found.number
    choices = tuple(
        Choice(ctx.t(f"technician.reason_{r}"), f"t:pause:{n}:{r}") for r in (*REASONS, "other")
    )
    question = Ask(ctx.t("technician.pause_ask", number=n), choices, inline=True)
    return Step(DialogueState(NAME, "pause", {"number": n}), (question,))


def pause_for(number: str, reason: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if reason in REASONS:
        note = ctx.t(f"technician.reason_{reason}")
        return conclude(_act(number, Action.PAUSE, note), ctx, then=leave(state, NAME))
    if reason == "other":
        typed = Say(ctx.t("technician.pause_type", number=number))
        return Step(DialogueState(NAME, "pause", {"number": number}), (typed,))
    return None


def ask_done(number: str, state: DialogueState, ctx: Ctx) -> Step:
    found = _checked(number, Action.RESOLVE, ctx)
    if isinstance(found, Say):
        return Step(state, (found,))
    asked = Say(ctx.t("technician.done_ask_note", number=found.number))
    return Step(DialogueState(NAME, "done_note", {"number": found.number, "photos": []}), (asked,))


def ask_release(number: str, state: DialogueState, ctx: Ctx) -> Step:
    found = _checked(number, Action.RELEASE, ctx)
    if isinstance(found, Say):
        return Step(state, (found,))
    asked = Say(ctx.t("technician.release_ask", number=found.number))
    return Step(DialogueState(NAME, "release", {"number": found.number}), (asked,))


def redraw(state: DialogueState, ctx: Ctx) -> tuple[Reply, ...]:
    """The current question with its buttons again (after a language switch)."""
    number = str(state.data.get("number", ""))
    if state.step == "signin":
        return ask_sign_in(number, state, ctx).replies
    if state.step == "pause":
        return ask_pause(number, state, ctx).replies
    if state.step == "done_photos":
        count = len(state.data.get("photos", []))
        more = ctx.t("technician.done_ask_photos", limit=MAX_PHOTOS, count=count)
        return (Ask(more, (_finish_choice(number, ctx),), inline=True),)
    return ()


def _finish_choice(number: str, ctx: Ctx) -> Choice:
    return Choice(ctx.t("technician.btn_finish"), f"t:finish:{number}")


def _done_step(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    """Completion: a note first, then up to ``MAX_PHOTOS`` photos, then Finish."""
    number = str(state.data.get("number", ""))
    note = str(state.data.get("note", ""))
    photos = [str(p) for p in state.data.get("photos", [])]
    finish = _finish_choice(number, ctx)
    if isinstance(event, Photo):
        if len(photos) >= MAX_PHOTOS:
            refused = ctx.t("technician.photo_limit", limit=MAX_PHOTOS)
            return Step(state, (Ask(refused, (finish,), inline=True),))
        photos.append(event.ref)
        caption = event.caption.strip()
        note = f"{note}\n{caption}" if note and caption else note or caption
        if not note:
            asked = Say(ctx.t("technician.photo_needs_note", count=len(photos), limit=MAX_PHOTOS))
            return Step(state.to("done_note", photos=photos), (asked,))
        saved = ctx.t("technician.photo_saved", count=len(photos), limit=MAX_PHOTOS)
        return Step(
            state.to("done_photos", note=note, photos=photos), (Ask(saved, (finish,), True),)
        )
    text = event.text.strip() if isinstance(event, Text) else ""
    if text and state.step == "done_note":
        more = ctx.t("technician.done_ask_photos", limit=MAX_PHOTOS, count=len(photos))
        return Step(state.to("done_photos", note=text), (Ask(more, (finish,), inline=True),))
    if text:
        added = ctx.t("technician.note_added")
        return Step(state.to("done_photos", note=f"{note}\n{text}"), (Ask(added, (finish,), True),))
    if state.step == "done_note":
        return Step(state, (Say(ctx.t("technician.done_note_hint", number=number)),))
    hint = ctx.t("technician.done_photos_hint", limit=MAX_PHOTOS)
    return Step(state, (Ask(hint, (finish,), inline=True),))


def finish(number: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if state.flow != NAME or state.data.get("number") != number:
        return None  # a Finish button from a completion already sent or abandoned
    if state.step == "done_note":
        return Step(state, (Say(ctx.t("technician.done_note_hint", number=number)),))
    if state.step != "done_photos":
        return None
    photos = [str(p) for p in state.data.get("photos", [])]
    note = str(state.data.get("note", ""))
    return conclude(_act(number, Action.RESOLVE, note, photos=photos), ctx)


# -- the flow shape -------------------------------------------------------------------

_BY_NUMBER = {
    "show": show,
    "claim": claim,
    "ack": acknowledge,
    "signin": ask_sign_in,
    "pause": ask_pause,
    "done": ask_done,
    "release": ask_release,
}


def command(name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if name == "jobs":
        refused = _not_technician(ctx)
        return Step(state, (refused,) if refused else jobs(ctx))
    if name == "status" and ctx.role is Role.TECHNICIAN:
        refused = _not_technician(ctx)
        if refused:
            return Step(state, (refused,))
        number = normalize_number(arg)
        if not number:
            return Step(state, (Say(ctx.t("technician.status_usage")),))
        return show(number, state, ctx)
    return None


def button(data: str, state: DialogueState, ctx: Ctx) -> Step | None:
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != PREFIX or not parts[2].strip():
        return None
    refused = _not_technician(ctx)
    if refused:
        return Step(state, (refused,))
    verb, number, rest = parts[1], normalize_number(parts[2]), parts[3:]
    if verb in _BY_NUMBER and not rest:
        return _BY_NUMBER[verb](number, state, ctx)
    if verb == "pause" and len(rest) == 1:
        return pause_for(number, rest[0], state, ctx)
    if verb == "resume" and not rest:
        return Step(state, (), (_act(number, Action.RESUME),))
    if verb == "here" and not rest:
        return sign_in(number, None, state, ctx)
    if verb == "finish" and not rest:
        return finish(number, state, ctx)
    return None


def step(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    """Answers to a pending question: a location, a reason, a completion note or photos."""
    number = str(state.data.get("number", ""))
    text = event.text.strip() if isinstance(event, Text) else ""
    if state.step == "signin":
        if isinstance(event, Location):
            return sign_in(number, event, state, ctx)
        return Step(state, (Say(ctx.t("technician.signin_hint", number=number)),))
    if state.step == "pause":
        if text:
            return conclude(_act(number, Action.PAUSE, text), ctx)
        return Step(state, (Say(ctx.t("technician.pause_hint", number=number)),))
    if state.step == "release":
        if text:
            return conclude(_act(number, Action.RELEASE, text), ctx)
        return Step(state, (Say(ctx.t("technician.release_hint", number=number)),))
    if state.step in ("done_note", "done_photos"):
        return _done_step(state, event, ctx)
    if isinstance(event, Button):
        return Step(IDLE, (Say(ctx.t("common.stale_button")),))
    return Step(IDLE, (Say(ctx.t("technician.step_lost")),))


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    if not isinstance(action, Act):
        return ()
    n = ticket.number if ticket else action.number
    shown = card(ticket, ctx) if ticket else ()
    match action.action:
        case Action.CLAIM:
            return (Say(ctx.t("technician.claimed", number=n)), *shown)
        case Action.ACKNOWLEDGE:
            return (Say(ctx.t("receipt.acknowledged", number=n)), *shown)
        case Action.SIGN_IN:
            metres = action.data.get("distance_m")
            if isinstance(metres, int | float):
                said = ctx.t("technician.signed_in_distance", number=n, distance=round(metres))
            else:
                said = ctx.t("technician.signed_in", number=n)
            # The location request was a reply keyboard: take it away again.
            first: Reply = RemoveKeyboard(said) if ctx.can_share_location else Say(said)
            return (first, *shown)
        case Action.PAUSE:
            return (Say(ctx.t("technician.paused", number=n, reason=action.note)), *shown)
        case Action.RESUME:
            return (Say(ctx.t("technician.resumed", number=n)), *shown)
        case Action.RESOLVE:
            count = len(action.data.get("photos", []))
            return (Say(ctx.t("technician.resolved", number=n, count=count)),)
        case Action.RELEASE:
            return (Say(ctx.t("technician.released", number=n)),)
    return ()
