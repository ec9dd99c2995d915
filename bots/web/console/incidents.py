"""Incidents (大面积故障) and planned outages (停电信息) in the console: list, open,
close, publish, cancel — what ``baoxiu incident`` / ``baoxiu outage`` do, through the same
``Store.perform_rule`` commands with the staff member as actor, and the chat flow's own
reply (``conversation.dispatcher.outcome``) as the page's message.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bots.keys import CONFIG, STORE, WORKER
from bots.web.console.auth import Staff, now, page_context, staff
from bots.web.console.pages import actor_of, ctx_of
from bots.web.console.render import render
from conversation import dispatcher
from conversation.actions import Rule
from conversation.common import describe_error
from conversation.known_faults import area_name, category_name
from conversation.replies import text_of
from tickets.errors import BaoxiuError, InvalidInput
from tickets.incidents import IncidentState
from tickets.outages import parse_when
from tickets.staff import Can

KINDS = ("incident.open", "incident.close", "outage.add", "outage.cancel")


async def _show(
    request: web.Request, who: Staff, message: str = "", error: str = ""
) -> web.Response:
    config, store, ctx = request.app[CONFIG], request.app[STORE], ctx_of(request, who)
    incidents = [
        {
            "id": item.id,
            "code": item.code,
            "state": ctx.t(f"incidents.state_{item.state.value}"),
            "open": item.state is not IncidentState.CLOSED,
            "category": category_name(item.category, ctx),
            "area": area_name(item.area, ctx),
            "linked": len(store.linked(item.id)),
            "note": item.note,
        }
        for item in store.incidents(*IncidentState)[:200]
    ]
    outages = [
        {
            "id": o.id,
            "code": o.code,
            "category": category_name(o.category, ctx),
            "area": area_name(o.area, ctx),
            "starts": o.starts_at,
            "ends": o.ends_at,
            "reason": o.reason,
            "state": o.state.value,
        }
        for o in store.outages()[:200]
    ]
    values: dict[str, Any] = {
        "incidents": incidents,
        "outages": outages,
        "areas": [(a.code, a.name(who.locale)) for a in config.areas],
        "categories": [(g.code, g.name(who.locale)) for g in config.categories]
        + [(c.code, c.name(who.locale)) for g in config.categories for c in g.children],
        "message": message,
        "error": error,
    }
    return render(request, "incidents.html", who.locale, **page_context(who), **values)


@staff(Can.VIEW)
async def page(request: web.Request, who: Staff) -> web.StreamResponse:
    return await _show(request, who)


@staff(Can.INCIDENTS)
async def act(request: web.Request, who: Staff) -> web.StreamResponse:
    form = await request.post()
    values = {k: str(v).strip()[:500] for k, v in form.items() if isinstance(v, str)}
    kind = values.get("kind", "")
    ctx, moment, store = ctx_of(request, who), now(), request.app[STORE]
    try:
        if kind not in KINDS:
            raise InvalidInput("errors.invalid_input")
        params: dict[str, Any] = {"note": values.get("note", "")}
        if kind in ("incident.close", "outage.cancel"):
            if not values.get("id", "").isdigit():
                raise InvalidInput("errors.invalid_input")
            params["id"] = int(values["id"])
        else:
            params.update(area=values.get("area", ""), category=values.get("category", ""))
        if kind == "outage.add":
            tz = request.app[CONFIG].timezone
            start, end = (parse_when(values.get(k, ""), moment, tz) for k in ("start", "end"))
            if start is None or end is None:
                raise InvalidInput("outages.bad_window")
            params.update(
                start=start.isoformat(), end=end.isoformat(), reason=values.get("reason", "")
            )
        rule = Rule(kind, params)
        with store.transaction():
            ticket = store.perform_rule(kind, params, actor_of(who), moment)
            said = dispatcher.outcome(rule, ticket, ctx)
    except BaoxiuError as refused:
        return await _show(request, who, error=describe_error(refused, ctx))
    request.app[WORKER].wake()
    return await _show(request, who, message=" ".join(text_of(r) for r in said))
