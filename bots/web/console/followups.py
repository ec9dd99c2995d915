"""Follow-up calls (回访) in the console: the open tasks (bad ratings, "not fixed" after
closing, and the sampled share of closed tickets) with the reporter's phone masked, the
full phone on request (logged as the ticket's ``phone_shown`` event, as on the ticket
page), and the outcome of a call recorded as the ticket's ``follow_up`` event through
``tickets.followups.record``. Nothing here decides a rule.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bots.keys import STORE
from bots.web.console.auth import Staff, now, page_context, staff
from bots.web.console.pages import NUMBER, actor_of, ctx_of
from bots.web.console.render import render
from conversation.common import describe_error
from conversation.i18n import local_phone, mask_phone, translate
from conversation.known_faults import area_name, category_name
from tickets import console_store, followups
from tickets.errors import BaoxiuError
from tickets.staff import Can


def _tr(who: Staff, key: str, **params: Any) -> str:
    return translate(who.locale, f"followup_calls.{key}", **params)


async def _show(
    request: web.Request,
    who: Staff,
    *,
    message: str = "",
    error: str = "",
    shown: str = "",
    status: int = 200,
) -> web.Response:
    ctx = ctx_of(request, who)
    calls = [
        {
            "number": call.ticket.number,
            "reason": ctx.t(f"dispatch.followup_reason_{call.reason}"),
            "opened": call.opened_at,
            "category": category_name(call.ticket.category, ctx),
            "area": area_name(call.ticket.area, ctx),
            "rating": call.ticket.rating or "-",
            "comment": call.ticket.comment,
            "attempts": call.attempts,
            "phone": local_phone(call.ticket.phone)
            if call.ticket.number == shown
            else mask_phone(call.ticket.phone),
            "full": call.ticket.number == shown,
        }
        for call in followups.open_calls(request.app[STORE])
    ]
    response = render(
        request,
        "followups.html",
        who.locale,
        **page_context(who),
        calls=calls,
        outcomes=[(o, _tr(who, f"outcome_{o}")) for o in followups.OUTCOMES],
        message=message,
        error=error,
    )
    response.set_status(status)
    return response


def _number(request: web.Request) -> str:
    number = request.match_info["number"]
    if not NUMBER.fullmatch(number):
        raise web.HTTPNotFound()
    return number.upper()


@staff(Can.VIEW)
async def page(request: web.Request, who: Staff) -> web.StreamResponse:
    """GET /console/followups — the open follow-up calls, oldest first."""
    return await _show(request, who)


@staff(Can.CALL)
async def call(request: web.Request, who: Staff) -> web.StreamResponse:
    """POST /console/followups/N/call — the reporter's full phone; logged on the ticket."""
    number = _number(request)
    store = request.app[STORE]
    if store.ticket(number) is None:
        raise web.HTTPNotFound()
    console_store.phone_shown(store, number, actor_of(who), now())
    return await _show(request, who, shown=number)


@staff(Can.CALL)
async def record(request: web.Request, who: Staff) -> web.StreamResponse:
    """POST /console/followups/N — outcome=reached|not_reached|satisfied|not_satisfied, note."""
    number = _number(request)
    form = await request.post()
    outcome = str(form.get("outcome", ""))
    note = str(form.get("note", "")).strip()[:1000]
    store = request.app[STORE]
    if store.ticket(number) is None:
        raise web.HTTPNotFound()
    try:
        followups.record(store, number, outcome, note, actor_of(who), now())
    except BaoxiuError as refused:
        error = describe_error(refused, ctx_of(request, who))
        return await _show(request, who, error=error, status=409)
    label = _tr(who, f"outcome_{outcome}")
    return await _show(request, who, message=_tr(who, "recorded", number=number, outcome=label))
