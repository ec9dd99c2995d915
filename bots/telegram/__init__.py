"""The Telegram adapter: residents, technicians and team groups on python-telegram-bot 22.

``setup(app)`` — called by ``bots.app.build_app`` after its store and engine contexts
when ``[channels.telegram]`` is configured — adds ``telegram_ctx``, which runs a
``TelegramChannel`` inside the aiohttp process (``initialize``/``start``, then
``updater.start_polling`` or ``setWebhook``; ``stop``/``shutdown`` on clean-up, never
``run_polling``) with the ``telegram`` delivery worker, and in webhook mode
``add_routes``' ``POST /telegram/webhook``. ``telegram_status(config)`` is what
``baoxiu telegram status`` prints.

The work itself is in ``bots.telegram.channel``; the other ``bots.telegram_*`` modules
are its parts (settings, reading updates, inbound translation, rendering, notices,
tables, transport).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from bots.keys import CONFIG, ENGINE, STORE
from bots.telegram.channel import TelegramChannel
from bots.telegram.http import build_application
from bots.telegram.settings import TelegramSettings
from bots.telegram.status import status_lines
from config.model import Config
from conversation.i18n import LOCALES, catalog

WEBHOOK_PATH = "/telegram/webhook"

# -- aiohttp wiring ---------------------------------------------------------------------

TELEGRAM = web.AppKey("telegram", TelegramChannel)


def setup(app: web.Application) -> None:
    """Add the Telegram channel to the app if ``[channels.telegram]`` is configured; call
    it after the store and engine clean-up contexts are added."""
    config = app[CONFIG]
    if not TelegramSettings.configured(config):
        return
    settings = TelegramSettings.from_config(config)  # fail at build time, not at start
    if settings.webhook:
        add_routes(app)
    app.cleanup_ctx.append(telegram_ctx)


def add_routes(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, _webhook)


async def _webhook(request: web.Request) -> web.StreamResponse:
    channel = request.app.get(TELEGRAM)
    if channel is None:
        raise web.HTTPServiceUnavailable()
    return await channel.webhook(request)


async def telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    for locale in LOCALES:  # read now, not while the first person waits for an answer
        catalog(locale)
    channel = TelegramChannel(config, TelegramSettings.from_config(config), app[STORE], app[ENGINE])
    await channel.start()
    app[TELEGRAM] = channel
    try:
        yield
    finally:
        await channel.stop()


# -- `baoxiu telegram status` -------------------------------------------------------------


def telegram_status(config: Config) -> str:
    """getMe and getWebhookInfo as lines of text in the service's language.

    Raises ``ConfigError`` when the table is missing or wrong or the token is refused."""
    return asyncio.run(status_text(config))


async def status_text(config: Config) -> str:
    settings = TelegramSettings.from_config(config)
    return "\n".join(await status_lines(settings, config.locale, config.timezone))


__all__ = [
    "TELEGRAM",
    "WEBHOOK_PATH",
    "TelegramChannel",
    "add_routes",
    "build_application",
    "setup",
    "status_text",
    "telegram_ctx",
    "telegram_status",
]
