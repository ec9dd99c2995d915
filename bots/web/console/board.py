"""The technicians board: each technician's state now (free, on a job, on site, paused,
on leave, off duty), open jobs, jobs finished today and the last sign-in (place, time).

Read-only; the state is derived from the technician's open jobs (``Store.jobs_of``) and
the duty rules (``tickets.duty``), today's count and the last sign-in from the event log
(``tickets.console_store``). The map of sign-ins is not built: the table is the board.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from aiohttp import web

from bots.keys import CONFIG, STORE
from bots.web.console.auth import Staff, now, page_context, staff
from bots.web.console.pages import ctx_of, row_of
from bots.web.console.render import render, t
from conversation.known_faults import area_name
from tickets import console_store
from tickets.duty import off_duty_reason
from tickets.model import State
from tickets.staff import Can


def _state(jobs: list[State], off: str | None) -> str:
    if State.ON_SITE in jobs:
        return "on_site"
    if State.ASSIGNED in jobs:
        return "on_job"
    if State.PAUSED in jobs:
        return "paused"
    if off == "leave":
        return "leave"
    if off is not None:
        return "off_duty"
    return "free"


@staff(Can.VIEW)
async def board(request: web.Request, who: Staff) -> web.StreamResponse:
    config, store, moment = request.app[CONFIG], request.app[STORE], now()
    ctx = ctx_of(request, who)
    zone = ZoneInfo(config.timezone)
    midnight = datetime.combine(moment.astimezone(zone).date(), time.min, zone)
    finished = console_store.resolved_since(store, midnight)
    rows = []
    for tech in config.technicians:
        jobs = list(store.jobs_of(tech.id))
        last = console_store.last_sign_in(store, tech.id)
        place = "-"
        if last is not None:
            parts = (area_name(last.area, ctx), last.building, last.spot)
            place = " ".join(x for x in parts if x)
        state = _state([j.state for j in jobs], off_duty_reason(tech.id, moment, config))
        rows.append(
            {
                "name": tech.name,
                "state": t(who.locale, f"tech_{state}"),
                "busy": state in ("on_site", "on_job"),
                "jobs": [row_of(j, ctx, moment) for j in jobs],
                "today": finished.get(tech.id, 0),
                "last_at": last.signed_in_at if last else None,
                "last_place": place,
            }
        )
    return render(request, "board.html", who.locale, **page_context(who), rows=rows)
