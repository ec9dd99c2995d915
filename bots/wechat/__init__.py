"""The WeChat official account (服务号) for residents.

``setup(app)`` — called by ``bots.app.build_app`` after its store and engine contexts
— adds, when ``[channels.wechat]`` is configured, the callback route ``/wechat`` (GET
handshake, POST messages) and ``wechat_ctx``: the API client and the ``wechat`` delivery
worker for notices. The parts: settings, crypto (the envelope: AES and XML, WeCom's
too), inbound, media (pictures by MediaId, WeCom's too), callback (the route), client
(the API), notify (the Sender), store (tables).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bots.channel.callbacks import add_routes, background
from bots.channel.choices import OfferTable
from bots.keys import CONFIG, ENGINE, STORE
from bots.wechat.callback import WeChatChannel
from bots.wechat.client import WeChatClient
from bots.wechat.crypto import Envelope
from bots.wechat.inbound import Inbound
from bots.wechat.notify import WeChatSender
from bots.wechat.settings import WeChatSettings
from bots.wechat.store import CHANNEL, WeChatTables
from notify.delivery import DeliveryWorker
from notify.fallback import Fallback

PATH = "/wechat"
WECHAT = web.AppKey("wechat", WeChatChannel)
WECHAT_WORKER = web.AppKey("wechat_worker", DeliveryWorker)


def setup(app: web.Application) -> None:
    """Add the official account if ``[channels.wechat]`` is configured."""
    config = app[CONFIG]
    if not WeChatSettings.configured(config):
        return
    WeChatSettings.from_config(config)  # fail at build time, not at start
    add_routes(app, PATH, WECHAT)
    app.cleanup_ctx.append(wechat_ctx)


async def wechat_ctx(app: web.Application) -> AsyncIterator[None]:
    config, store = app[CONFIG], app[STORE]
    settings = WeChatSettings.from_config(config)
    tables = WeChatTables(store)
    offers = OfferTable(store, CHANNEL)
    client = WeChatClient(settings, tables)
    inbound = Inbound(client, offers, tables, config.media_dir, settings.max_file_mb)
    app[WECHAT] = WeChatChannel(config, Envelope(settings), app[ENGINE], tables, offers, inbound)
    sender = WeChatSender(config, settings, store, client, tables, offers)
    worker = DeliveryWorker(store, config, CHANNEL, sender, fallback=Fallback(store, config))
    app[WECHAT_WORKER] = worker
    try:
        async with background(**{"baoxiu-wechat-delivery": worker.run}):
            yield
    finally:
        await client.close()


__all__ = ["PATH", "WECHAT", "WECHAT_WORKER", "setup", "wechat_ctx"]
