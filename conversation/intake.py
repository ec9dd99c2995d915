"""Resident intake: the dialogue that turns a chat into a ticket.

category (two levels, or a typed keyword) → where (area → building → spot, or a shared
location) → phone → description and up to four photos → preferred visit time → summary
(confirm / edit one field / cancel) → the repeat rules (``known_faults``: hurry or reopen
the reporter's ticket of the same fault, or join a known large-area incident) →
``CreateTicket``. A known fault in the chosen area (incident, planned outage) is told as
soon as the category and the area are known.

The step to ask next is always derived from what ``state.data`` still lacks (``_settle``),
so a deep-link pre-fill, an edit from the summary and a configuration that changed in
the middle of a dialogue all take the same path. ``state.data`` holds JSON values only:
``category`` (leaf code), ``area``/``building`` (codes, "" when skipped), ``spot``,
``latitude``/``longitude``, ``phone`` (E.164), ``description``, ``photos`` (refs),
``photos_done``, ``time`` ("" = any time), ``known`` (the known fault already told); and,
while their step lasts, ``group`` (level-2 category group) and ``hits`` (keyword matches).

Pure: no store, no network, no clock; questions about tickets, incidents and outages go
through ``ctx.lookup``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from conversation import category_search, known_faults, phone_code
from conversation.actions import Act, CreateTicket, Rule, TicketAction
from conversation.context import Ctx
from conversation.events import Button, Contact, InEvent, Location, Photo, Text
from conversation.i18n import local_phone, local_time
from conversation.phones import normalize_phone
from conversation.remembered import remembered
from conversation.replies import (
    Ask,
    Choice,
    RemoveKeyboard,
    Reply,
    RequestContact,
    RequestLocation,
    Say,
)
from conversation.state import IDLE, DialogueState
from conversation.step import Step
from tickets.model import Action, Draft, Ticket

NAME = "intake"
PREFIX = "i"

MAX_PHOTOS = 4
MIN_DESCRIPTION = 4
MAX_SPOT = 100
MAX_TIME = 100
MAX_HITS = 8

EDITABLE: dict[str, tuple[str, ...]] = {
    "category": ("category",),
    "location": ("area", "building", "spot", "latitude", "longitude"),
    "phone": ("phone",),
    "description": ("description",),
    "photos": ("photos", "photos_done"),
    "time": ("time",),
}
"""Summary fields a reporter may re-enter, and the data keys each one clears."""

_TRANSIENT = ("group", "hits")
_CATEGORY_STEPS = ("category", "category_leaf", "category_hits")

# -- the flow-module interface ------------------------------------------------------------


def start(ctx: Ctx, prefill: dict[str, str]) -> Step:
    """Begin a report; a valid ``area``/``building`` pre-fill (deep link, QR code on a
    building) skips those questions, an invalid one is ignored."""
    data: dict[str, Any] = {}
    area = ctx.config.area(prefill.get("area", ""))
    if area is not None:
        data["area"] = area.code
        building = area.building(prefill.get("building", ""))
        if building is not None:
            data["building"] = building.code
    place = _place(data, ctx)
    lead = ctx.t("intake.start_at", place=place) if place else ctx.t("intake.start")
    return _advance(DialogueState(NAME, None, data), ctx, lead)


def step(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    """One event at the current step. A button is taken only if the step shows it now (an
    old message's button gets the step's hint); typed text may name a choice or its number."""
    handler = _HANDLERS.get(state.step or "")
    if state.flow != NAME or handler is None:  # saved by an older version: ask what is missing
        return _advance(DialogueState(NAME, None, dict(state.data)), ctx)
    choices = _choices(state, ctx)
    if isinstance(event, Button):
        if any(c.data == event.data for c in choices):
            return _chosen(state, event.data, ctx)
        return _hint(state, ctx)
    if isinstance(event, Text):
        picked = _pick(event.text, choices)
        if picked is not None:
            return _chosen(state, picked.data, ctx)
    return handler(state, event, ctx)


def command(name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step | None:
    return None  # /report and /cancel belong to common


def button(data: str, state: DialogueState, ctx: Ctx) -> Step | None:
    return None  # intake buttons only mean something at their step: ``step`` checks them


def outcome(action: TicketAction, ticket: Ticket | None, ctx: Ctx) -> tuple[Reply, ...]:
    if isinstance(action, CreateTicket):
        if ticket is None:
            return (Say(ctx.t("intake.accepted_pending")),)
        # This reply is the reporter's whole acceptance: no reporter.accepted notice
        # follows a report filed in his own dialogue (tickets.notices).
        name = _category_name(ticket.category, ctx)
        lines = [ctx.t("intake.accepted", number=ticket.number, category=name)]
        if ticket.preferred_time:
            # A time the reporter asked for beats the time limit: promising the limit
            # ("by 07:45") to someone who asked for "tomorrow morning" contradicts him.
            lines.append(ctx.t("intake.accepted_when", time=ticket.preferred_time))
        elif ticket.arrive_due is not None:
            eta = local_time(ticket.arrive_due, ctx.config.timezone)
            lines.append(ctx.t("intake.accepted_eta", eta=eta))
        lines.append(ctx.t("intake.accepted_next", number=ticket.number))
        return (Say("\n".join(lines)),)
    if isinstance(action, Act) and action.action is Action.HURRY:
        return (Say(ctx.t("intake.hurried", number=action.number)),)
    if isinstance(action, Rule):
        return known_faults.outcome(action, ticket, ctx)
    return ()


# -- moving through the steps -------------------------------------------------------------


def _settle(data: dict[str, Any], ctx: Ctx) -> str:
    """The next step to ask, after dropping values the configuration no longer knows and
    filling the ones there is nothing to ask about (no areas, an area without buildings)."""
    cfg = ctx.config
    if cfg.category(str(data.get("category", ""))) is None:
        data.pop("category", None)
        return "category"
    if "area" not in data or (data["area"] and cfg.area(str(data["area"])) is None):
        data.pop("building", None)
        if cfg.areas:
            data.pop("area", None)
            return "area"
        data["area"] = ""
    area = cfg.area(str(data["area"])) if data["area"] else None
    if "building" not in data or (
        data["building"] and (area is None or area.building(str(data["building"])) is None)
    ):
        if area is not None and area.buildings:
            data.pop("building", None)
            return "building"
        data["building"] = ""
    for key in ("spot", "phone", "description"):
        if not data.get(key):
            return key
    if not data.get("photos_done"):
        return "photos"
    return "time" if "time" not in data else "summary"


def _advance(state: DialogueState, ctx: Ctx, lead: str = "") -> Step:
    data = {k: v for k, v in state.data.items() if k not in _TRANSIENT}
    nxt = DialogueState(NAME, _settle(data, ctx), data)
    known = known_faults.announce(data, ctx)  # an incident or outage there: told once
    return Step(nxt, _prompt(nxt, ctx, "\n".join(x for x in (lead, known) if x)))


def redraw(state: DialogueState, ctx: Ctx, lead: str = "") -> tuple[Reply, ...]:
    """The current question again after ``lead``, unchanged state (after a language
    switch, or input no step can use)."""
    if state.flow != NAME or state.step not in _HANDLERS:
        return (Say(lead),) if lead else ()
    return _prompt(state, ctx, lead)


def _go(state: DialogueState, step_name: str, ctx: Ctx, lead: str = "", **updates: Any) -> Step:
    nxt = DialogueState(NAME, step_name, _with(state, **updates).data)
    return Step(nxt, _prompt(nxt, ctx, lead))


def _hint(state: DialogueState, ctx: Ctx, lead: str = "") -> Step:
    """Something this step cannot use: say what it needs and ask again, state unchanged."""
    base = "category" if state.step in _CATEGORY_STEPS else state.step
    return Step(state, _prompt(state, ctx, lead or ctx.t(f"intake.hint_{base}")))


def _with(state: DialogueState, **updates: Any) -> DialogueState:
    """Same step, ``data`` updated; a ``None`` value removes the key."""
    data = {**state.data, **updates}
    return DialogueState(NAME, state.step, {k: v for k, v in data.items() if v is not None})


def _chosen(state: DialogueState, data: str, ctx: Ctx) -> Step:
    """A choice of the current step (already checked to be one of ``_choices``)."""
    _, kind, *rest = data.split(":", 2)
    arg = rest[0] if rest else ""
    cfg = ctx.config
    if kind == "cat":
        group = cfg.group(arg)
        if group is not None and len(group.children) != 1:
            return _go(state, "category_leaf", ctx, group=arg)
        return _take_category(state, group.children[0].code if group else arg, ctx)
    if kind == "back":
        if state.step == "building":
            return _advance(_with(state, area=None), ctx)
        if state.step == "edit":
            return _advance(state, ctx)
        return _go(state, "category", ctx, group=None, hits=None)
    if kind == "area":
        return _advance(_with(state, area=arg, building=None), ctx)
    if kind == "bld":
        return _advance(_with(state, building=arg), ctx)
    if kind == "phone":
        return _advance(_with(state, phone=normalize_phone(ctx.last_phone or "")), ctx)
    if kind == "code":
        return phone_code.chosen(state, arg, ctx, _shown(ctx), lambda s: _advance(s, ctx))
    if kind == "photos_done":
        return _advance(_with(state, photos_done=True), ctx)
    if kind == "time":
        return _advance(_with(state, time=""), ctx)
    if kind == "edit" and arg:
        kept = {k: v for k, v in state.data.items() if k not in EDITABLE[arg]}
        return _advance(DialogueState(NAME, None, kept), ctx)
    if kind == "edit":
        return _go(state, "edit", ctx)
    if kind == "confirm":
        return _confirm(state, ctx)
    return Step(IDLE, (RemoveKeyboard(ctx.t("intake.cancelled")),))  # i:cancel


def _take_category(state: DialogueState, code: str, ctx: Ctx) -> Step:
    lead = ctx.t("intake.category_taken", category=_category_name(code, ctx))
    return _advance(_with(state, category=code), ctx, lead)


def _confirm(state: DialogueState, ctx: Ctx) -> Step:
    if _settle(dict(state.data), ctx) != "summary":  # the configuration changed meanwhile
        return _advance(state, ctx)
    # A fault already reported (by this reporter, or as a large-area incident) is no new job.
    return known_faults.at_confirm(state.data, ctx) or _create(state, ctx)


def _create(state: DialogueState, ctx: Ctx) -> Step:
    if _settle(dict(state.data), ctx) != "summary":  # the configuration changed meanwhile
        return _advance(state, ctx)
    return Step(IDLE, (), (CreateTicket(_draft(state.data, ctx), flow=NAME),))


def _draft(data: dict[str, Any], ctx: Ctx) -> Draft:
    return Draft(
        category=data["category"],
        phone=data["phone"],
        description=data["description"],
        reporter_channel=ctx.channel,
        reporter_chat=ctx.chat,
        reporter_locale=ctx.locale,
        area=data.get("area", ""),
        building=data.get("building", ""),
        spot=data["spot"],
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        photos=tuple(data.get("photos", ())),
        preferred_time=data.get("time", ""),
    )


# -- what each step accepts besides its choices ---------------------------------------------


def _on_category(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    if not isinstance(event, Text) or not event.text.strip():
        return _hint(state, ctx)
    query = event.text.strip().casefold()
    groups = ctx.config.categories
    exact = [g for g in groups if query in (g.zh.casefold(), g.en.casefold())]
    if exact:
        return _chosen(state, f"i:cat:{exact[0].code}", ctx)
    hits = category_search.search(query, ctx.config.categories)
    if len(hits) == 1:
        return _take_category(state, hits[0], ctx)
    if hits:
        return _go(state, "category_hits", ctx, hits=hits[:MAX_HITS])
    # A group name matches on any overlap: "电" is enough to mean 电力.
    loose = [
        g for g in groups if any(category_search.overlap(query, n.casefold()) for n in (g.zh, g.en))
    ]
    if len(loose) == 1:
        return _chosen(state, f"i:cat:{loose[0].code}", ctx)
    return _hint(state, ctx, ctx.t("intake.category_not_found", text=event.text.strip()[:20]))


def _on_place(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    """Area, building and spot steps: a shared location is kept at any of them."""
    if isinstance(event, Location):
        where = ((event.latitude, 90), (event.longitude, 180))
        if not all(math.isfinite(v) and abs(v) <= bound for v, bound in where):
            return _hint(state, ctx)
        data = {**state.data, "latitude": event.latitude, "longitude": event.longitude}
        data.setdefault("area", "")
        data.setdefault("building", "")
        return _advance(DialogueState(NAME, state.step, data), ctx, ctx.t("intake.location_taken"))
    if not isinstance(event, Text) or not event.text.strip():
        return _hint(state, ctx)
    text = event.text.strip()
    if state.step == "spot":
        if len(text) > MAX_SPOT:
            return _hint(state, ctx, ctx.t("intake.spot_too_long", limit=MAX_SPOT))
        return _advance(_with(state, spot=text), ctx)
    # A typed part of an area or building name ("1号" for "1号楼") picks it when unique.
    typed = text.casefold()
    found = [c for c in _choices(state, ctx) if c.data != "i:back" and typed in c.label.casefold()]
    if len(found) == 1:
        return _chosen(state, found[0].data, ctx)
    return _hint(state, ctx)


def _on_phone(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    # Any contact is fine, not only the sender's own: people report for a neighbour.
    if not isinstance(event, Text | Contact):
        return _hint(state, ctx)
    phone = normalize_phone(event.text if isinstance(event, Text) else event.phone)
    if phone is None:
        return _hint(state, ctx, ctx.t("intake.phone_invalid"))
    if isinstance(event, Text) and phone_code.wanted(ctx):  # confirmed by an SMS code first
        return phone_code.begin(state, phone, ctx, _shown(ctx))
    return _advance(_with(state, phone=phone), ctx)


def _on_phone_code(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    return phone_code.typed(
        state, event, ctx, _shown(ctx), lambda s, p: _advance(_with(s, phone=p), ctx)
    )


def _shown(ctx: Ctx) -> Callable[[DialogueState, str], Step]:
    """``phone_code``'s way to show a step of this flow after a lead line."""
    return lambda state, lead: Step(state, _prompt(state, ctx, lead))


def _on_description(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    if isinstance(event, Photo):
        return _add_photo(state, event, ctx)
    if not isinstance(event, Text):
        return _hint(state, ctx)
    text = event.text.strip()
    if len(text) < MIN_DESCRIPTION:
        return _hint(state, ctx, ctx.t("intake.description_too_short", min=MIN_DESCRIPTION))
    return _advance(_with(state, description=text), ctx)


def _on_photos(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    if isinstance(event, Photo):
        return _add_photo(state, event, ctx)
    if isinstance(event, Text):
        said = event.text.strip().strip("。.!！~～ ").casefold()
        if said in ctx.t("intake.done_words").casefold().split(","):
            return _chosen(state, "i:photos_done", ctx)
    return _hint(state, ctx)


def _add_photo(state: DialogueState, event: Photo, ctx: Ctx) -> Step:
    photos = [str(p) for p in state.data.get("photos", ())]
    if len(photos) >= MAX_PHOTOS:
        return _hint(state, ctx, ctx.t("intake.photo_limit", limit=MAX_PHOTOS))
    data = {**state.data, "photos": [*photos, event.ref]}
    caption = event.caption.strip()
    described = str(data.get("description", ""))
    if caption and described:
        data["description"] = f"{described}\n{caption}"
    elif len(caption) >= MIN_DESCRIPTION:
        data["description"] = caption
    if state.step == "description" and not data.get("description"):
        kept = DialogueState(NAME, state.step, data)
        return Step(kept, _prompt(kept, ctx, ctx.t("intake.photo_need_text")))
    return _advance(DialogueState(NAME, state.step, data), ctx)


def _on_time(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    if not isinstance(event, Text) or not event.text.strip():
        return _hint(state, ctx)
    if len(event.text.strip()) > MAX_TIME:
        return _hint(state, ctx, ctx.t("intake.time_too_long", limit=MAX_TIME))
    return _advance(_with(state, time=event.text.strip()), ctx)


def _only_choices(state: DialogueState, event: InEvent, ctx: Ctx) -> Step:
    return _hint(state, ctx)


_HANDLERS: dict[str, Callable[[DialogueState, InEvent, Ctx], Step]] = {
    "category": _on_category,
    "category_leaf": _on_category,
    "category_hits": _on_category,
    "area": _on_place,
    "building": _on_place,
    "spot": _on_place,
    "phone": _on_phone,
    phone_code.STEP: _on_phone_code,
    "description": _on_description,
    "photos": _on_photos,
    "time": _on_time,
    "summary": _only_choices,
    "edit": _only_choices,
}


# -- what each step shows ------------------------------------------------------------------


_Question = tuple[str, tuple[Choice, ...], bool]


def _question(state: DialogueState, ctx: Ctx) -> _Question:
    """The current step's question, its choices (typing a label or its number picks one
    too) and whether they are inline buttons rather than a reply keyboard.

    Asked twice a step (the choices of this step, the question of the next) and the same
    for every reporter: one that depends only on the configuration, the language and what
    ``_asked_by`` names is made once (``conversation.remembered``)."""
    key = _asked_by(state, ctx)
    if key is None:
        return _ask(state, ctx)
    return remembered(ctx.config, key, lambda: _ask(state, ctx))


def _asked_by(state: DialogueState, ctx: Ctx) -> tuple[Any, ...] | None:
    """All a step's question depends on besides the configuration, after this flow's name
    (``remembered``'s key); ``None``: it depends on the reporter (his last phone, the code
    sent, his summary, the matches he typed)."""
    s, d = state.step, state.data
    if s in ("category", "time", "edit", "spot", "description"):
        return (NAME, s, ctx.locale)
    if s == "area":
        return (NAME, s, ctx.locale, ctx.can_share_location)
    if s == "category_leaf":
        return (NAME, s, ctx.locale, str(d.get("group", "")))
    if s == "building":
        return (NAME, s, ctx.locale, str(d.get("area", "")))
    if s == "photos":
        return (NAME, s, ctx.locale, len(d.get("photos", ())))
    return None


def _ask(state: DialogueState, ctx: Ctx) -> _Question:
    cfg, loc, d, t, s = ctx.config, ctx.locale, state.data, ctx.t, state.step
    back = Choice(t("intake.back"), "i:back")
    if s == "category":
        groups = tuple(Choice(g.name(loc), f"i:cat:{g.code}") for g in cfg.categories)
        return t("intake.ask_category"), groups, False
    if s == "category_leaf":
        group = cfg.group(str(d.get("group", "")))
        leaves = [Choice(c.name(loc), f"i:cat:{c.code}") for c in (group.children if group else ())]
        name = group.name(loc) if group else ""
        return t("intake.ask_category_leaf", group=name), (*leaves, back), False
    if s == "category_hits":
        hits = [str(code) for code in d.get("hits", ()) if cfg.category(str(code))]
        found = [Choice(_category_name(code, ctx), f"i:cat:{code}") for code in hits]
        return t("intake.ask_category_hits"), (*found, back), False
    if s == "area":
        areas = tuple(Choice(a.name(loc), f"i:area:{a.code}") for a in cfg.areas)
        # The location button needs the reply keyboard, so the areas then go inline.
        return t("intake.ask_area"), areas, ctx.can_share_location
    if s == "building":
        area = cfg.area(str(d.get("area", "")))
        buildings = [
            Choice(b.name(loc), f"i:bld:{b.code}") for b in (area.buildings if area else ())
        ]
        name = area.name(loc) if area else ""
        return t("intake.ask_building", area=name), (*buildings, back), False
    if s == "phone":
        last = normalize_phone(ctx.last_phone or "")
        offer = (
            Choice(t("intake.use_last_phone", phone=local_phone(last)), "i:phone:last")
            if last
            else None
        )
        key = "intake.ask_phone_share" if ctx.can_share_contact else "intake.ask_phone"
        return t(key), (offer,) if offer else (), True
    if s == "photos":
        count = len(d.get("photos", ()))
        done = Choice(
            t("intake.photos_done") if count else t("intake.photos_skip"), "i:photos_done"
        )
        if count >= MAX_PHOTOS:
            return t("intake.ask_photos_full", limit=MAX_PHOTOS), (done,), True
        if count:
            return t("intake.ask_photos_more", count=count, left=MAX_PHOTOS - count), (done,), True
        return t("intake.ask_photos", limit=MAX_PHOTOS), (done,), True
    if s == "time":
        return t("intake.ask_time"), (Choice(t("intake.time_any"), "i:time:any"),), True
    if s == phone_code.STEP:
        return (*phone_code.question(d, ctx), True)
    if s == "summary":
        return _summary(d, ctx), _summary_choices(ctx), True
    if s == "edit":
        fields = [Choice(t(f"intake.field_{f}"), f"i:edit:{f}") for f in EDITABLE]
        return t("intake.ask_edit"), (*fields, back), True
    return t(f"intake.ask_{s}", min=MIN_DESCRIPTION), (), False  # spot, description


def _choices(state: DialogueState, ctx: Ctx) -> tuple[Choice, ...]:
    if state.step == "summary":  # its text (the whole report) is not needed for these
        return _summary_choices(ctx)
    return _question(state, ctx)[1]


def _summary_choices(ctx: Ctx) -> tuple[Choice, ...]:
    return _buttons(ctx, "confirm", "edit", "cancel")


def _buttons(ctx: Ctx, *names: str) -> tuple[Choice, ...]:
    return tuple(Choice(ctx.t(f"intake.{name}"), f"i:{name}") for name in names)


def _pick(text: str, choices: tuple[Choice, ...]) -> Choice | None:
    """The choice whose number ("2", "２") or whole label was typed."""
    typed = "".join(text.split()).casefold()
    if typed.isdecimal() and len(typed) <= 3 and 1 <= int(typed) <= len(choices):
        return choices[int(typed) - 1]
    return next((c for c in choices if "".join(c.label.split()).casefold() == typed), None)


def _prompt(state: DialogueState, ctx: Ctx, lead: str = "") -> tuple[Reply, ...]:
    """The question of the current step, after ``lead`` (what was just taken or refused)."""
    text, choices, inline = _question(state, ctx)
    text = f"{lead}\n{text}" if lead else text
    if state.step == "phone":
        first: Reply = (
            RequestContact(text, ctx.t("intake.share_contact"))
            if ctx.can_share_contact
            else RemoveKeyboard(text)
        )
        return (first, Ask(ctx.t("intake.ask_phone_last"), choices, True)) if choices else (first,)
    if not choices:  # free text: a category or area keyboard must not linger under it
        return (RemoveKeyboard(text),)
    if state.step == "area" and ctx.can_share_location:
        where = RequestLocation(ctx.t("intake.ask_location"), ctx.t("intake.share_location"))
        return (Ask(text, choices, inline), where)
    return (Ask(text, choices, inline),)


def _category_name(code: str, ctx: Ctx) -> str:
    leaf = ctx.config.category(code)
    if leaf is None:
        return code
    group = ctx.config.group(leaf.group)
    return f"{group.name(ctx.locale)} / {leaf.name(ctx.locale)}" if group else leaf.name(ctx.locale)


def _place(data: dict[str, Any], ctx: Ctx) -> str:
    """Area, building and spot names as one line, e.g. "东区 1号楼 3楼302"."""
    parts: list[str] = []
    area = ctx.config.area(str(data.get("area") or ""))
    if area is not None:
        parts.append(area.name(ctx.locale))
        building = area.building(str(data.get("building") or ""))
        if building is not None:
            parts.append(building.name(ctx.locale))
    if data.get("spot"):
        parts.append(str(data["spot"]))
    located = ctx.t("intake.location_attached") if data.get("latitude") is not None else ""
    return " ".join(parts) + located


def _summary(data: dict[str, Any], ctx: Ctx) -> str:
    return ctx.t(
        "intake.summary",
        category=_category_name(str(data.get("category", "")), ctx),
        location=_place(data, ctx),
        phone=local_phone(str(data.get("phone", ""))),
        description=data.get("description", ""),
        photos=len(data.get("photos", ())),
        time=data.get("time") or ctx.t("intake.time_any_value"),
    )
