"""The staff console at /console: login, the live queue, ticket pages and actions.

``setup(app)`` adds its routes, its static files and its session table; ``bots.app``
calls it. Pages are server-rendered (jinja2, autoescaped) under the service's strict CSP
(no inline script or style); the one script (static/console.js) only makes the queue
live. See docs/console.md.
"""

from __future__ import annotations

from aiohttp import web

from bots.web.console import (
    auth,
    board,
    followups,
    incidents,
    intake,
    pages,
    search_page,
    stats_page,
    ticket,
)
from bots.web.console.render import HERE


def setup(app: web.Application) -> None:
    app[auth.SESSIONS] = auth.Sessions()
    app.router.add_get("/console/login", auth.login_page)
    app.router.add_post("/console/login", auth.login)
    app.router.add_post("/console/logout", auth.logout)
    app.router.add_get("/console", pages.queue)
    app.router.add_get("/console/api/new", pages.live)
    app.router.add_get("/console/ticket/{number}", ticket.page)
    app.router.add_post("/console/ticket/{number}/act", ticket.act)
    app.router.add_post("/console/ticket/{number}/call", ticket.call)
    app.router.add_get("/console/media/{number}/{index}", ticket.media)
    app.router.add_get("/console/intake", intake.page)
    app.router.add_post("/console/intake", intake.submit)
    app.router.add_get("/console/technicians", board.board)
    app.router.add_get("/console/incidents", incidents.page)
    app.router.add_post("/console/incidents", incidents.act)
    app.router.add_get("/console/stats", stats_page.page)
    app.router.add_get("/console/search", search_page.page)
    app.router.add_get("/console/followups", followups.page)
    app.router.add_post("/console/followups/{number}", followups.record)
    app.router.add_post("/console/followups/{number}/call", followups.call)
    app.router.add_static(
        "/console/static", HERE / "static", name="console_static", append_version=True
    )
