"""The console's statistics page (统计) at /console/stats, for leads and admins.

A date range, a grouping (the whole desk, category, area, team, channel, technician)
and a period (day, week, month) give: a chart of the tickets filed per period (stacked
by group), a chart per group, and the same figures as tables — the tables ``baoxiu
stats`` prints (``bots.cli.stats.stats_rows`` / ``volume_rows``). ``format=csv`` or
``format=xlsx`` downloads exactly the shown tables (``bots.channel.export``, formula
cells neutralised). The figures are ``tickets.stats``'; nothing is computed here.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from bots.channel.export import Cell, csv_bytes, xlsx_bytes
from bots.cli.stats import stats_rows, volume_rows
from bots.keys import CONFIG, STORE
from bots.web.charts import bar_chart, stacked_bar_chart
from bots.web.console.auth import Staff, now, page_context, staff
from bots.web.console.render import render
from conversation.i18n import translate
from tickets import stats
from tickets.staff import Can

BY = ("", *stats.DIMENSIONS)
PERIODS = ("day", "week", "month")
LONGEST = timedelta(days=3 * 366)


def _t(locale: str, key: str, **params: Any) -> str:
    return translate(locale, f"console_stats.{key}", **params)


class BadQuery(ValueError):
    """A range or date the page cannot show (its catalog key)."""


def _date(text: str, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BadQuery("bad_date") from None


def choice(query: Any, today: date) -> tuple[date, date, str, str]:
    """The page's range, grouping and period from its query (defaults: the last 30
    days, the whole desk, per day up to two months and per month beyond)."""
    last = _date(str(query.get("to", "")).strip(), today)
    first = _date(str(query.get("from", "")).strip(), last - timedelta(days=29))
    if first > last or last - first > LONGEST:
        raise BadQuery("bad_range")
    by = str(query.get("by", ""))
    period = str(query.get("period", ""))
    if period not in PERIODS:
        period = "day" if (last - first).days <= 62 else "month"
    return first, last, by if by in BY else "", period


def tables(
    store: Any, config: Any, first: date, last: date, by: str, period: str, locale: str
) -> tuple[stats.Figures, list[list[Cell]], list[list[Cell]]]:
    """The figures, their table and the table of tickets filed per period."""
    figures = stats.figures(store, first, last, by=by)
    volume_by = "" if by == "technician" else by  # a ticket's holder changes; filing does not
    volume = stats.volume(store, first, last, period=period, by=volume_by)
    # Every period, the empty ones too: a chart's gaps are days without a ticket.
    volume = {label: volume.get(label, {}) for label in stats.periods(first, last, period)}
    rows = stats_rows(config, figures, locale)
    return figures, rows, volume_rows(config, volume, volume_by, locale)


@staff(Can.STATS)
async def page(request: web.Request, who: Staff) -> web.StreamResponse:
    config, store, locale = request.app[CONFIG], request.app[STORE], who.locale
    today = now().astimezone(ZoneInfo(config.timezone)).date()
    error = ""
    try:
        first, last, by, period = choice(request.query, today)
    except BadQuery as bad:
        error = _t(locale, str(bad))
        first, last, by, period = choice({}, today)
    figures, rows, per_period = tables(store, config, first, last, by, period, locale)
    kind = request.query.get("format", "")
    if kind in ("csv", "xlsx") and not error:
        name = f"baoxiu-stats-{first.isoformat()}-{last.isoformat()}{'-' + by if by else ''}"
        shown = [*rows, [], *per_period]
        body = csv_bytes(shown) if kind == "csv" else xlsx_bytes(shown, name[:31])
        return web.Response(
            body=body,
            content_type=(
                "text/csv"
                if kind == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            ),
            charset="utf-8" if kind == "csv" else None,
            headers={
                "Content-Disposition": f'attachment; filename="{name}.{kind}"',
                "Cache-Control": "no-store",
            },
        )
    span = {"start": first.isoformat(), "end": last.isoformat()}
    groups = [str(h) for h in per_period[0][1:]] if per_period else []
    bars = [
        (str(row[0]), {groups[i]: float(n or 0) for i, n in enumerate(row[1:])})
        for row in per_period[1:]
    ]
    charts = [Markup(stacked_bar_chart(bars, title=_t(locale, "chart_volume", **span)))]
    if by and figures.groups:
        column = 2 if by == "technician" else 1  # jobs finished / tickets filed
        title = _t(locale, "chart_jobs" if by == "technician" else "chart_groups")
        charts.append(
            Markup(bar_chart([(str(r[0]), float(r[column] or 0)) for r in rows[1:]], title=title))
        )
    keep = [("from", first.isoformat()), ("to", last.isoformat()), ("by", by), ("period", period)]
    return render(
        request,
        "stats.html",
        locale,
        **page_context(who),
        ts=lambda key, **params: _t(locale, key, **params),
        error=error,
        first=first.isoformat(),
        last=last.isoformat(),
        by=by,
        period=period,
        bys=BY,
        periods=PERIODS,
        charts=charts,
        rows=rows,
        per_period=per_period,
        empty=not figures.groups,
        keep=keep,
        **span,
    )
