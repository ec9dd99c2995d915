"""What works anywhere: /start (with deep-link pre-fill), /help, /cancel, /lang, /report,
the idle menu of each role, binding a technician or dispatcher by a verified contact,
and the wording of refused actions."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl

from conversation import dispatcher, followup, intake, technician
from conversation.actions import Bind, SetLocale, TicketAction
from conversation.context import Ctx
from conversation.events import Button, Contact, InEvent, Text
from conversation.i18n import LOCALES
from conversation.replies import Ask, Choice, Reply, Say
from conversation.state import IDLE, DialogueState
from conversation.step import Step
from tickets.errors import BaoxiuError
from tickets.model import Role, Ticket

NAME = "common"
PREFIX = "c"


def parse_deep_link(payload: str) -> dict[str, str]:
    """``area=east&building=b1`` (web, terminal) or ``east__b1`` (Telegram's /start
    payload allows only letters, digits, ``_`` and ``-``) → ``{"area": …, "building": …}``."""
    payload = payload.strip()
    if not payload:
        return {}
    if "=" in payload:
        pairs = dict(parse_qsl(payload, keep_blank_values=False))
        return {k: v for k, v in pairs.items() if k in ("area", "building")}
    area, _, building = payload.partition("__")
    found = {"area": area}
    if building:
        found["building"] = building
    return found


def command(name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step | None:
    if name == "start":
        prefill = parse_deep_link(arg)
        if prefill and ctx.role is Role.REPORTER:
            return intake.start(ctx, prefill)
        return Step(IDLE, (Say(ctx.t(f"common.welcome_{ctx.role.value}")), *menu(ctx)))
    if name == "help":
        return Step(state, (Say(ctx.t(f"common.help_{ctx.role.value}")),))
    if name == "cancel" and not arg:
        if state.flow is None:
            return Step(IDLE, (Say(ctx.t("common.nothing_to_cancel")),))
        return Step(IDLE, (Say(ctx.t("common.left_dialogue")), *menu(ctx)))
    if name == "lang":
        wanted = arg.strip()
        if not wanted:
            wanted = "en" if ctx.locale == "zh_CN" else "zh_CN"
        if wanted not in LOCALES:
            return Step(
                state, (Say(ctx.t("common.lang_unknown", given=wanted, known=", ".join(LOCALES))),)
            )
        return switch_locale(wanted, state, ctx)
    if name == "report":
        return intake.start(ctx, {})
    return None


def button(data: str, state: DialogueState, ctx: Ctx) -> Step | None:
    parts = data.split(":")
    if parts == ["c", "report"]:
        return intake.start(ctx, {})
    if parts == ["c", "my"]:
        return followup.command("my", "", IDLE, ctx)
    if parts == ["c", "help"]:
        return Step(state, (Say(ctx.t(f"common.help_{ctx.role.value}")),))
    if len(parts) == 3 and parts[:2] == ["c", "lang"] and parts[2] in LOCALES:
        return switch_locale(parts[2], state, ctx)
    return None


def switch_locale(wanted: str, state: DialogueState, ctx: Ctx) -> Step:
    """Say so in the new language and redraw what the chat shows now (the menu, or the
    current intake question) in it: buttons in the old language under an English text
    would otherwise stay until the next step."""
    new = replace(ctx, locale=wanted)
    redraw: tuple[Reply, ...] = ()
    if state.flow is None:
        redraw = menu(new)
    elif state.flow == intake.NAME:
        redraw = intake.redraw(state, new)
    elif state.flow == technician.NAME:
        redraw = technician.redraw(state, new)
    elif state.flow == followup.NAME:
        redraw = followup.redraw(state, new)
    return Step(state, (Say(new.t("common.lang_set")), *redraw), (SetLocale(wanted),))


def menu(ctx: Ctx) -> tuple[Reply, ...]:
    """The idle menu of the person's role."""
    if ctx.role is Role.TECHNICIAN:
        return technician.menu(ctx)
    if ctx.role is Role.DISPATCHER:
        return dispatcher.menu(ctx)
    # A reporter's menu is the same for every reporter of a language (the catalogs never
    # change): made once, not at each idle message and each report filed.
    made = _REPORTER_MENUS.get(ctx.locale)
    if made is None:
        made = (
            Ask(
                ctx.t("common.menu"),
                (
                    Choice(ctx.t("common.menu_report"), "c:report"),
                    Choice(ctx.t("common.menu_my"), "c:my"),
                    Choice(ctx.t("common.menu_help"), "c:help"),
                ),
            ),
        )
        if ctx.locale in LOCALES:  # a platform's spelling of one is made each time
            _REPORTER_MENUS[ctx.locale] = made
    return made


_REPORTER_MENUS: dict[str, tuple[Reply, ...]] = {}


def idle(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    """No dialogue is going on: bind a verified contact, or show the menu."""
    if isinstance(event, Contact) and event.own and ctx.can_share_contact:
        return bind(event.phone, ctx)
    if isinstance(event, Button):
        return Step(IDLE, (Say(ctx.t("common.stale_button")), *menu(ctx)))
    if isinstance(event, Text) and ctx.role is Role.REPORTER:
        # "卫生间漏水了" with no dialogue going on: most people start by naming the
        # fault, so try it as the category before falling back to the menu.
        opened = intake.start(ctx, {})
        tried = intake.step(opened.state, event, ctx)
        if tried.state.data != opened.state.data or tried.state.step != opened.state.step:
            return tried
    return Step(IDLE, menu(ctx))


def bind(phone: str, ctx: Ctx) -> Step:
    """A verified phone of a configured technician or dispatcher binds this chat to them."""
    from conversation.intake import normalize_phone

    e164 = normalize_phone(phone)
    person = ctx.config.person_by_phone(e164) if e164 else None
    if person is None:
        return Step(IDLE, (Say(ctx.t("common.bind_unknown")), *menu(ctx)))
    role = "technician" if ctx.config.technician(person.id) else "dispatcher"
    return Step(IDLE, (), (Bind(role, person.id),))


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    if isinstance(action, SetLocale):
        return ()  # switch_locale already said so, with the redrawn buttons
    if isinstance(action, Bind):
        person = ctx.config.technician(action.person) or ctx.config.dispatcher(action.person)
        name = person.name if person else action.person
        return (Say(ctx.t(f"common.bound_{action.role}", name=name)),)
    return ()


def describe_error(error: BaoxiuError, ctx: Ctx) -> str:
    """A refused action in the person's language; state names are translated too."""
    params = dict(error.params)
    for key in ("state", "from_state", "to_state"):
        if params.get(key):
            params[key] = ctx.t(f"states.{params[key]}")
    if params.get("action"):
        params["action"] = ctx.t(f"actions.{params['action']}")
    try:
        return ctx.t(error.key, **params)
    except KeyError:
        return ctx.t("errors.generic")
