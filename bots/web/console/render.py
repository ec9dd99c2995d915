"""The console's pages from jinja2 templates (autoescaped, undefined names are errors),
and its texts from the ``console`` catalog. Nothing here decides anything."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bots.keys import CONFIG
from conversation.i18n import channel_name, local_time, translate

HERE = Path(__file__).parent
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def t(locale: str, key: str, /, **params: Any) -> str:
    return translate(locale, f"console.{key}", **params)


def render(request: web.Request, name: str, locale: str, **values: Any) -> web.Response:
    config = request.app[CONFIG]
    static = request.app.router["console_static"]

    def when(moment: datetime | None) -> str:
        return local_time(moment, config.timezone) if moment else "-"

    html = _templates.get_template(name).render(
        t=lambda key, **params: t(locale, key, **params),
        tr=lambda key, **params: translate(locale, key, **params),
        when=when,
        channel_name=lambda code: channel_name(locale, code),
        locale=locale,
        static_url=lambda file: str(static.url_for(filename=file)),
        **values,
    )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )
