"""The console's search page at /console/search (and the search box on every page).

What a staff member types goes to ``tickets.search`` (Chinese of any length, Latin
words, digits, ranked by bm25); the answer is a page of rows linking to each ticket's
page, with a keyset "more" link (the cursor ``tickets.search`` returns). When a term is
so common that only its newest matches were ranked, the page says so and offers the
whole ranking. Nothing is decided here.
"""

from __future__ import annotations

from aiohttp import web

from bots.keys import STORE
from bots.web.console.auth import Staff, now, page_context, staff
from bots.web.console.pages import ctx_of, row_of
from bots.web.console.render import render
from conversation.i18n import translate
from tickets import search
from tickets.staff import Can

PAGE_SIZE = 20
LONGEST = 100  # characters of a query; more is cut (a search box, not a document)


@staff(Can.VIEW)
async def page(request: web.Request, who: Staff) -> web.StreamResponse:
    text = request.query.get("q", "").strip()[:LONGEST]
    whole = request.query.get("all") == "1"
    found = search.search(
        request.app[STORE],
        text,
        limit=PAGE_SIZE,
        after=request.query.get("after") or None,
        whole=whole,
    )
    ctx, moment = ctx_of(request, who), now()
    rows = []
    for ticket in found.tickets:
        row = row_of(ticket, ctx, moment)
        row["description"] = ticket.description[:80]
        row["created"] = ticket.created_at
        rows.append(row)
    keep = [("q", text), *([("all", "1")] if whole else [])]
    return render(
        request,
        "search.html",
        who.locale,
        **page_context(who),
        ts=lambda key, **params: translate(who.locale, f"console_stats.{key}", **params),
        text=text,
        rows=rows,
        window=found.window,
        rank_all=search.RANK_ALL,
        whole_query=[("q", text), ("all", "1")],
        more_query=[*keep, ("after", found.after)] if found.after else None,
        first_page=not request.query.get("after"),
    )
