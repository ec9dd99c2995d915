"""The technicians board: each technician's state now (free, on a job, on site, paused,
on leave, off duty), open jobs, jobs finished today and the last sign-in (place, time).

Read-only; the state is derived from the technician's open jobs (``Store.jobs_of``) and
the duty rules (``tickets.duty``), today's count and the last sign-in from the event log
(``tickets.console_store``). With ``[console] map_tiles`` configured, a Leaflet map
(vendored under static/leaflet, driven by static/board.js) shows each technician at
their last sign-in: the location they shared when signing in, else the ticket's own.
The page's CSP then also allows images from the tile server; without tiles there is
no map, no script and no foreign origin — the table is the board.
"""

from __future__ import annotations

import json
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
from tickets.model import State, Ticket
from tickets.staff import Can
from tickets.store import Store


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


SERVICE_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
"""bots.app.CSP (which imports this package, so not imported from there; a test checks
they are the same)."""


def where(store: Store, ticket: Ticket) -> tuple[float, float] | None:
    """Where the holder signed in at ``ticket``: the shared location of the sign-in
    event, else the ticket's own place; None when neither is known."""
    rows = store.query(
        "SELECT data FROM events WHERE number = ? AND action = 'sign_in' ORDER BY id DESC LIMIT 1",
        [ticket.number],
    )
    data = json.loads(rows[0]["data"]) if rows else {}
    latitude, longitude = data.get("latitude"), data.get("longitude")
    if isinstance(latitude, int | float) and isinstance(longitude, int | float):
        return float(latitude), float(longitude)
    if ticket.latitude is not None and ticket.longitude is not None:
        return ticket.latitude, ticket.longitude
    return None


@staff(Can.VIEW)
async def board(request: web.Request, who: Staff) -> web.StreamResponse:
    config, store, moment = request.app[CONFIG], request.app[STORE], now()
    ctx = ctx_of(request, who)
    zone = ZoneInfo(config.timezone)
    midnight = datetime.combine(moment.astimezone(zone).date(), time.min, zone)
    finished = console_store.resolved_since(store, midnight)
    tiles = config.console.map_tiles
    rows = []
    for tech in config.technicians:
        jobs = list(store.jobs_of(tech.id))
        last = console_store.last_sign_in(store, tech.id)
        place = "-"
        if last is not None:
            parts = (area_name(last.area, ctx), last.building, last.spot)
            place = " ".join(x for x in parts if x)
        state = _state([j.state for j in jobs], off_duty_reason(tech.id, moment, config))
        spot = where(store, last) if last is not None and tiles else None
        rows.append(
            {
                "spot": spot,
                "name": tech.name,
                "state": t(who.locale, f"tech_{state}"),
                "busy": state in ("on_site", "on_job"),
                "jobs": [row_of(j, ctx, moment) for j in jobs],
                "today": finished.get(tech.id, 0),
                "last_at": last.signed_in_at if last else None,
                "last_place": place,
            }
        )
    response = render(
        request,
        "board.html",
        who.locale,
        **page_context(who),
        rows=rows,
        tiles=tiles,
        attribution=config.console.map_attribution,
    )
    if tiles:
        # The tiles come from their own server: allowed for images, on this page only.
        images = f"img-src 'self' data: {config.console.tile_origin}"
        response.headers["Content-Security-Policy"] = f"{SERVICE_CSP}; {images}"
    return response
