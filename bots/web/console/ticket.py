"""One ticket in the console: its page, the actions on it, the reporter's phone, photos.

Actions go through ``Store.apply`` / ``Store.set_priority`` (the workflow's checks),
notes and "phone shown" through ``tickets.console_store``, each with the staff member as
actor and in one transaction with its event and notices. What is offered is
``workflow.allowed_actions`` for this actor now, narrowed by the staff member's role.
"""

from __future__ import annotations

from aiohttp import web

from bots.channel.media import IMAGE_EXTENSIONS
from bots.keys import CONFIG, STORE, WORKER
from bots.web.console.auth import Staff, now, page_context, staff
from bots.web.console.pages import CONSOLE_ACTIONS, NUMBER, actor_of, ctx_of, row_of
from bots.web.console.render import render, t
from conversation import dispatcher
from conversation.actions import Act
from conversation.common import describe_error
from conversation.i18n import mask_phone
from conversation.known_faults import area_name, category_name
from conversation.replies import text_of
from tickets import console_store, workflow
from tickets.errors import BaoxiuError, InvalidInput
from tickets.model import Action, Priority, Ticket
from tickets.staff import Can, may


def _ticket(request: web.Request) -> Ticket:
    number = request.match_info["number"]
    ticket = request.app[STORE].ticket(number.upper()) if NUMBER.fullmatch(number) else None
    if ticket is None:
        raise web.HTTPNotFound()
    return ticket


def offered(ticket: Ticket, who: Staff) -> list[Action]:
    if not may(who.member.role, Can.ACT):
        return []
    allowed = set(workflow.allowed_actions(ticket, actor_of(who)))
    # allowed_actions tries each action with sample data that a priority change does
    # not accept (it needs a level), so that one is read from the rules table itself.
    roles, states = workflow.RULES[Action.PRIORITY]
    if actor_of(who).role in roles and ticket.state in states:
        allowed.add(Action.PRIORITY)
    return [a for a in CONSOLE_ACTIONS if a in allowed]


async def show(
    request: web.Request,
    who: Staff,
    *,
    message: str = "",
    error: str = "",
    phone: str = "",
    status: int = 200,
) -> web.Response:
    store, config = request.app[STORE], request.app[CONFIG]
    ticket = _ticket(request)
    ctx, moment = ctx_of(request, who), now()
    others = [
        row_of(other, ctx, moment)
        for other in store.tickets_of(ticket.reporter_channel, ticket.reporter_chat, limit=20)
        if other.number != ticket.number
    ]
    fields = [
        (t(who.locale, "f_state"), ctx.t(f"states.{ticket.state.value}")),
        (t(who.locale, "f_category"), category_name(ticket.category, ctx)),
        (t(who.locale, "f_area"), area_name(ticket.area, ctx)),
        (t(who.locale, "f_spot"), " ".join(x for x in (ticket.building, ticket.spot) if x) or "-"),
        (t(who.locale, "f_priority"), ctx.t(f"cli.priority.{ticket.priority.value}")),
        (t(who.locale, "f_team"), ticket.team),
        (t(who.locale, "f_holder"), row_of(ticket, ctx, moment)["holder"]),
        (t(who.locale, "f_channel"), ticket.reporter_channel),
        (t(who.locale, "f_phone"), phone or mask_phone(ticket.phone)),
        (t(who.locale, "f_preferred"), ticket.preferred_time or "-"),
        (t(who.locale, "f_left"), row_of(ticket, ctx, moment)["left"]),
        (t(who.locale, "f_overdue"), ticket.overdue or "-"),
        (t(who.locale, "f_master"), ticket.master or "-"),
        (t(who.locale, "f_resolution"), ticket.resolution or "-"),
        (t(who.locale, "f_rating"), str(ticket.rating) if ticket.rating else "-"),
    ]
    photos = [f"/console/media/{ticket.number}/{i}" for i in range(len(ticket.photos))] + [
        f"/console/media/{ticket.number}/r{i}" for i in range(len(ticket.resolution_photos))
    ]
    response = render(
        request,
        "ticket.html",
        who.locale,
        **page_context(who),
        ticket=ticket,
        fields=fields,
        created=ticket.created_at,
        photos=photos,
        timeline=store.timeline(ticket.number),
        notices=store.notices_of(ticket.number),
        others=others,
        actions=[a.value for a in offered(ticket, who)],
        technicians=[(x.id, x.name) for x in config.technicians],
        priorities=[(p.value, ctx.t(f"cli.priority.{p.value}")) for p in Priority],
        phone=phone,
        message=message,
        error=error,
        names={
            **{x.id: x.name for x in config.technicians},
            **{x.id: x.name for x in config.dispatchers},
        },
    )
    response.set_status(status)
    return response


@staff(Can.VIEW)
async def page(request: web.Request, who: Staff) -> web.StreamResponse:
    return await show(request, who)


@staff(Can.NOTE)
async def act(request: web.Request, who: Staff) -> web.StreamResponse:
    """POST /console/ticket/N/act — action=assign|transfer|merge|priority|cancel|reopen|note."""
    ticket = _ticket(request)
    form = await request.post()
    name = str(form.get("action", ""))
    target = str(form.get("target", "")).strip()[:64] or None
    note = str(form.get("note", "")).strip()[:2000]
    store, moment, ctx = request.app[STORE], now(), ctx_of(request, who)
    actor = actor_of(who)
    try:
        if name == "note":
            console_store.note(store, ticket.number, actor, note, moment)
            return await show(request, who, message=t(who.locale, "note_added"))
        action = Action(name) if name in {a.value for a in CONSOLE_ACTIONS} else None
        if action is None or action not in offered(ticket, who):
            raise web.HTTPForbidden(text=t(who.locale, "forbidden"))
        act_ = Act(
            ticket.number,
            action,
            note=note,
            data={"priority": target} if action is Action.PRIORITY else {},
            target=target.upper() if action is Action.MERGE and target else target,
        )
        with store.transaction():
            if action is Action.PRIORITY:
                if target not in {p.value for p in Priority}:
                    raise InvalidInput("console.bad_priority")
                after = store.set_priority(ticket.number, str(target), actor, moment, note)
            else:
                after = store.apply(
                    ticket.number, action, actor, moment, note=note, target=act_.target
                )
            said = dispatcher.outcome(act_, after, ctx)
    except BaoxiuError as refused:
        return await show(request, who, error=describe_error(refused, ctx), status=409)
    request.app[WORKER].wake()
    message = " ".join(text_of(r) for r in said) or t(who.locale, "done")
    return await show(request, who, message=message)


@staff(Can.CALL)
async def call(request: web.Request, who: Staff) -> web.StreamResponse:
    """POST /console/ticket/N/call — show the full phone (and a tel: link); logged."""
    ticket = _ticket(request)
    console_store.phone_shown(request.app[STORE], ticket.number, actor_of(who), now())
    return await show(request, who, phone=ticket.phone)


@staff(Can.VIEW)
async def media(request: web.Request, who: Staff) -> web.StreamResponse:
    """GET /console/media/N/I — photo I of ticket N (rI: of its completion), to staff."""
    ticket = _ticket(request)
    which = request.match_info["index"]
    photos = ticket.resolution_photos if which.startswith("r") else ticket.photos
    digits = which.removeprefix("r")
    if not digits.isdigit() or int(digits) >= len(photos):
        raise web.HTTPNotFound()
    root = request.app[CONFIG].media_dir.resolve()
    path = (root / photos[int(digits)]).resolve()
    kind = {ext: k for k, ext in IMAGE_EXTENSIONS.items()}.get(path.suffix)
    if kind is None or not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={
            "Content-Type": kind,
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": "inline",
        },
    )
