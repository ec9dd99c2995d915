"""The console's ticket pages: the queue (filters, both sorts, keyset pages, live
arrivals), one ticket (fields, photos, timeline, notices, the reporter's other tickets)
and the actions a staff member may take on it now.

Every change goes through the store as the CLI and the dispatcher's chat do
(``Store.apply`` / ``set_priority``, with the workflow's checks) with the staff member
as the actor; notes and "phone shown" through ``tickets.console_store``. Lists come from
``tickets.queries``. This module decides no ticket rule.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bots.keys import CONFIG, STORE
from bots.web.console.auth import Staff, now, page_context, staff
from bots.web.console.render import render, t
from config.model import Config
from conversation.common import describe_error
from conversation.context import Ctx
from conversation.i18n import CHANNELS, channel_name
from conversation.known_faults import area_name, category_name
from tickets import console_store, queries
from tickets.errors import BaoxiuError, InvalidInput
from tickets.model import Action, Actor, Priority, Role, State, Ticket
from tickets.staff import Can

NUMBER = re.compile(r"[A-Za-z0-9-]{1,32}")
CONSOLE_ACTIONS = (
    Action.ASSIGN,
    Action.TRANSFER,
    Action.MERGE,
    Action.PRIORITY,
    Action.CANCEL,
    Action.REOPEN,
    Action.ACKNOWLEDGE,  # 接单确认 on the technician's word (he phoned in): tickets.receipt
)
LIVE_WAIT = 25.0
PAGE_SIZE = 50


def actor_of(who: Staff) -> Actor:
    return Actor(Role.DISPATCHER, who.member.actor_id, name=who.member.name)


def ctx_of(request: web.Request, who: Staff) -> Ctx:
    return Ctx(
        config=request.app[CONFIG],
        now=now(),
        channel="console",
        chat=who.member.login,
        locale=who.locale,
        lookup=request.app[STORE],
        role=Role.DISPATCHER,
        person=who.member.actor_id,
    )


def due_of(ticket: Ticket) -> datetime | None:
    return {
        State.NEW: ticket.claim_due,
        State.ASSIGNED: ticket.arrive_due,
        State.ON_SITE: ticket.resolve_due,
        State.PAUSED: ticket.resolve_due,
    }.get(ticket.state)


def time_left(ticket: Ticket, locale: str, moment: datetime) -> tuple[str, bool]:
    """The time left on the current limit as text, and whether it is already past."""
    due = due_of(ticket)
    if due is None:
        return "-", False
    minutes = int((due - moment).total_seconds() // 60)
    span = abs(minutes)
    amount = t(locale, "hours_minutes", hours=span // 60, minutes=span % 60)
    return (
        (t(locale, "left", amount=amount), False)
        if minutes >= 0
        else (
            t(locale, "overdue_by", amount=amount),
            True,
        )
    )


def row_of(ticket: Ticket, ctx: Ctx, moment: datetime) -> dict[str, Any]:
    left, late = time_left(ticket, ctx.locale, moment)
    return {
        "number": ticket.number,
        "state": ctx.t(f"states.{ticket.state.value}"),
        "category": category_name(ticket.category, ctx),
        "area": area_name(ticket.area, ctx),
        "spot": " ".join(x for x in (ticket.building, ticket.spot) if x),
        "priority": ctx.t(f"cli.priority.{ticket.priority.value}"),
        "holder": _tech_name(ctx.config, ticket.holder),
        "left": left,
        "late": late,
        "url": f"/console/ticket/{ticket.number}",
    }


def _tech_name(config: Config, tech_id: str | None) -> str:
    if not tech_id:
        return "-"
    tech = config.technician(tech_id)
    return tech.name if tech else tech_id


# -- the queue ------------------------------------------------------------------------
def _day(text: str, tz: str, *, end: bool) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput("console.bad_date", value=text[:20]) from None
    moment = datetime.combine(day, time.min, ZoneInfo(tz))
    return moment + timedelta(days=1) if end else moment


def filter_of(query: Any, config: Config) -> tuple[queries.TicketFilter, str]:
    def one(name: str) -> str | None:
        value = str(query.get(name, "")).strip()[:64]
        return value or None

    states = tuple(s for s in query.getall("state", []) if s in {x.value for x in State})
    priority = one("priority")
    if priority is not None and priority not in {p.value for p in Priority}:
        priority = None
    sort = one("sort") or "newest"
    if sort not in queries.SORTS:
        sort = "newest"
    flt = queries.TicketFilter(
        states=states,
        area=one("area"),
        building=one("building"),
        category=one("category"),
        team=one("team"),
        technician=one("technician"),
        priority=priority,
        channel=one("channel"),
        overdue=query.get("overdue") == "1",
        created_from=_day(one("from") or "", config.timezone, end=False),
        created_to=_day(one("to") or "", config.timezone, end=True),
    )
    return flt, sort


@staff(Can.VIEW)
async def queue(request: web.Request, who: Staff) -> web.StreamResponse:
    config, store, moment = request.app[CONFIG], request.app[STORE], now()
    ctx = ctx_of(request, who)
    error = ""
    try:
        flt, sort = filter_of(request.query, config)
        found = queries.page(
            store,
            flt,
            sort=sort,
            after=request.query.get("after") or None,
            limit=PAGE_SIZE,
            now=moment,
        )
    except BaoxiuError as refused:
        error = describe_error(refused, ctx)
        flt, sort, found = queries.TicketFilter(), "newest", queries.page(store, now=moment)
    kept = [(k, v) for k, v in request.query.items() if k != "after"]
    return render(
        request,
        "queue.html",
        who.locale,
        **page_context(who),
        rows=[row_of(ticket, ctx, moment) for ticket in found.tickets],
        next_query=[*kept, ("after", found.next_cursor)] if found.next_cursor else None,
        flt=flt,
        sort=sort,
        error=error,
        states=[(s.value, ctx.t(f"states.{s.value}")) for s in State],
        priorities=[(p.value, ctx.t(f"cli.priority.{p.value}")) for p in Priority],
        areas=[(a.code, a.name(who.locale)) for a in config.areas],
        technicians=[(x.id, x.name) for x in config.technicians],
        channels=[(code, channel_name(who.locale, code)) for code in CHANNELS],
        live_from=console_store.last_event_id(store),
        live=not request.query.get("after"),
    )


@staff(Can.VIEW)
async def live(request: web.Request, who: Staff) -> web.StreamResponse:
    """GET /console/api/new?after=EVENT — tickets filed after that event, waiting up to
    ``LIVE_WAIT`` seconds for one; only the tail of the event log is read (by its key)."""
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        after = 0
    store = request.app[STORE]
    waited = 0.0
    found = console_store.new_tickets_since(store, after)
    while not found and waited < LIVE_WAIT:
        await asyncio.sleep(1.0)
        waited += 1.0
        found = console_store.new_tickets_since(store, after)
    ctx, moment = ctx_of(request, who), now()
    rows = []
    for _event, number in found:
        ticket = store.ticket(number)
        if ticket is not None:
            rows.append(row_of(ticket, ctx, moment))
    last = found[-1][0] if found else after
    return web.json_response(
        {"after": last, "rows": rows, "notice": t(who.locale, "new_ticket")},
        headers={"Cache-Control": "no-store"},
    )
