"""Phone intake (坐席代录): an agent files a caller's report from the console.

The form mirrors the chat intake (category tree, area → building → spot, phone,
description, photos). Typing the caller's phone first (GET ``?phone=``) shows their open
and recent tickets; on submit the repeat rules (``tickets.repeats.judge``, as the chat
intake's ``known_faults.at_confirm``) run over the caller's tickets before anything is
filed: an open ticket of the same fault is hurried instead, one fixed a short while ago
is reopened. A new ticket is filed for channel ``phone`` with the caller's number as the
chat (a phone-only reporter: every notice, the number first, goes by SMS) and
the agent as the actor of its accept event. Photos are checked by their bytes and saved
in the media folder.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from bots.channel.media import IMAGE_EXTENSIONS, image_type, keep_photo
from bots.keys import CONFIG, STORE, WORKER
from bots.web.console.auth import MULTIPART, Staff, now, page_context, staff
from bots.web.console.pages import actor_of, ctx_of, row_of
from bots.web.console.render import render, t
from conversation import known_faults
from conversation.actions import Rule
from conversation.common import describe_error
from conversation.intake import normalize_phone
from conversation.replies import text_of
from tickets import console_store
from tickets.errors import BaoxiuError, InvalidInput
from tickets.model import Actor, Draft
from tickets.outbox import PHONE
from tickets.repeats import Hurry, Reopen, judge
from tickets.staff import Can
from tickets.workflow import MAX_PHOTOS

CHANNEL = PHONE
"""A caller is filed on channel ``phone`` with his number as chat: the ticket and the
figures say he phoned, and every notice reaches him by SMS from the start (the ``phone``
outbox is delivered by the SMS provider, ``bots.notify_workers``); the accept event's
actor is the agent who took the call."""
MAX_FIELD = 2000


def _choices(request: web.Request, locale: str) -> dict[str, Any]:
    config = request.app[CONFIG]
    return {
        "groups": [
            (g.name(locale), [(c.code, c.name(locale)) for c in g.children])
            for g in config.categories
        ],
        "areas": [
            (a.code, a.name(locale), [(b.code, b.name(locale)) for b in a.buildings])
            for a in config.areas
        ],
    }


def _form(request: web.Request, who: Staff, values: dict[str, str], **extra: Any) -> web.Response:
    phone = normalize_phone(values.get("phone", "")) if values.get("phone") else None
    ctx, moment = ctx_of(request, who), now()
    caller = (
        [row_of(x, ctx, moment) for x in console_store.tickets_of_phone(request.app[STORE], phone)]
        if phone
        else []
    )
    status = extra.pop("status", 200)
    response = render(
        request,
        "intake.html",
        who.locale,
        **page_context(who),
        **_choices(request, who.locale),
        values=values,
        caller=caller,
        bad_phone=bool(values.get("phone")) and phone is None,
        message=extra.pop("message", ""),
        error=extra.pop("error", ""),
        created=extra.pop("created", ""),
    )
    response.set_status(status)
    return response


@staff(Can.INTAKE)
async def page(request: web.Request, who: Staff) -> web.StreamResponse:
    values = {k: str(v)[:MAX_FIELD] for k, v in request.query.items()}
    return _form(request, who, values)


async def _read(request: web.Request) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """The multipart form: its text fields and up to MAX_PHOTOS image files (checked by
    their bytes; anything else refused)."""
    limit = request.app[CONFIG].web.max_upload_mb * 1024 * 1024
    values: dict[str, str] = {}
    photos: list[tuple[str, bytes]] = []
    reader = request.get(MULTIPART) or await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.name == "photos" and part.filename:
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > limit:  # stop reading: the whole body is refused
                    raise InvalidInput("console.bad_photo")
            if not data:
                continue
            kind = image_type(bytes(data[:16]))
            if kind is None or len(data) > limit:
                raise InvalidInput("console.bad_photo")
            photos.append((IMAGE_EXTENSIONS[kind], bytes(data)))
            if len(photos) > MAX_PHOTOS:
                raise InvalidInput("errors.too_many_photos", limit=MAX_PHOTOS)
        else:
            values[part.name] = (await part.text())[:MAX_FIELD]
    return values, photos


@staff(Can.INTAKE)
async def submit(request: web.Request, who: Staff) -> web.StreamResponse:
    config, store, moment = request.app[CONFIG], request.app[STORE], now()
    ctx = ctx_of(request, who)
    values: dict[str, str] = {}
    try:
        values, photos = await _read(request)
        phone = normalize_phone(values.get("phone", ""))
        category = config.category(values.get("category", ""))
        area = config.area(values.get("area", ""))
        spot, description = values.get("spot", "").strip(), values.get("description", "").strip()
        if phone is None:
            raise InvalidInput("console.bad_phone")
        if category is None or area is None or not spot or len(description) < 4:
            raise InvalidInput("console.intake_incomplete")
        building = values.get("building", "")
        if building and area.building(building) is None:
            raise InvalidInput("console.intake_incomplete")
        mine = console_store.tickets_of_phone(store, phone, limit=known_faults.MINE)
        verdict = judge(mine, category.code, spot, moment, config.repeats)
        if isinstance(verdict, Hurry | Reopen):
            return _repeat(request, who, values, verdict, description)
        refs = _save(request, photos)
        draft = Draft(
            category=category.code,
            phone=phone,
            description=description,
            reporter_channel=CHANNEL,
            reporter_chat=phone,
            reporter_locale=config.locale,
            area=area.code,
            building=building,
            spot=spot,
            photos=refs,
            preferred_time=values.get("time", "").strip()[:100],
        )
        ticket = store.create_ticket(draft, moment, actor=actor_of(who))
    except BaoxiuError as refused:
        return _form(request, who, values, error=describe_error(refused, ctx), status=400)
    request.app[WORKER].wake()
    return _form(
        request,
        who,
        {"phone": values.get("phone", "")},
        message=t(who.locale, "intake_filed", number=ticket.number),
        created=ticket.number,
    )


def _repeat(
    request: web.Request,
    who: Staff,
    values: dict[str, str],
    verdict: Hurry | Reopen,
    description: str,
) -> web.Response:
    """The caller reported a fault they already have a ticket for: that ticket is hurried
    (as the caller, whose own it is) or reopened (by the agent), as in the chat; the
    agent's note records that it came in by phone."""
    store, moment, ctx = request.app[STORE], now(), ctx_of(request, who)
    number = verdict.number
    ticket = store.get(number)
    if isinstance(verdict, Hurry):
        rule = Rule("repeat.hurry", {"number": number})
        actor = Actor.reporter(ticket.reporter_channel, ticket.reporter_chat)
    else:
        note = description
        params = {"number": number, "note": note, "resolved_at": verdict.resolved_at.isoformat()}
        rule, actor = Rule("repeat.reopen", params), actor_of(who)
    with store.transaction():
        after = store.perform_rule(rule.kind, rule.params, actor, moment)
        console_store.note(
            store,
            number,
            actor_of(who),
            t(who.locale, "intake_repeat_note", text=description),
            moment,
        )
    request.app[WORKER].wake()
    said = " ".join(text_of(r) for r in known_faults.outcome(rule, after, ctx))
    return _form(
        request,
        who,
        {"phone": values.get("phone", "")},
        message=t(who.locale, "intake_repeat", number=number) + " " + said,
    )


def _save(request: web.Request, photos: list[tuple[str, bytes]]) -> tuple[str, ...]:
    root = request.app[CONFIG].media_dir
    return tuple(keep_photo(root, "console", extension, data) for extension, data in photos)
