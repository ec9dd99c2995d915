"""The WeCom (企业微信) app for technicians and dispatchers.

``setup(app)`` — called by ``bots.app.build_app`` after its store and engine contexts
— adds, when ``[channels.wecom]`` is configured, the callback route ``/wecom`` (GET
handshake, POST messages) and ``wecom_ctx``: the API client, the binding of configured
members, the ``wecom`` delivery worker (notices, job cards, dialogue replies) and the
sweep that updates the cards of jobs taken elsewhere. The parts: settings, crypto (the
envelope), people (who a member is), inbound (fields → events), callback (the route),
client (the API), cards (offers as template cards), notify (the Sender), store (tables).
The crypto, token and API plumbing are the official account's (``bots.wechat``), reused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial

from aiohttp import web

from bots.channel.callbacks import Job, add_routes, background
from bots.channel.choices import OfferTable
from bots.keys import CONFIG, ENGINE, STORE
from bots.wechat.store import WeChatTables
from bots.wecom.callback import WeComChannel
from bots.wecom.cards import Cards
from bots.wecom.client import WeComClient
from bots.wecom.contacts import Contacts
from bots.wecom.crypto import WeComEnvelope
from bots.wecom.inbound import Inbound
from bots.wecom.notify import WeComSender
from bots.wecom.people import People
from bots.wecom.settings import WeComSettings
from bots.wecom.store import CHANNEL, WeComTables
from notify.delivery import DeliveryWorker
from notify.fallback import Fallback

PATH = "/wecom"
SWEEP_SECONDS = 5.0
WECOM = web.AppKey("wecom", WeComChannel)
WECOM_WORKER = web.AppKey("wecom_worker", DeliveryWorker)


def setup(app: web.Application) -> None:
    """Add the WeCom app if ``[channels.wecom]`` is configured."""
    config = app[CONFIG]
    if not WeComSettings.configured(config):
        return
    WeComSettings.from_config(config)  # fail at build time, not at start
    add_routes(app, PATH, WECOM)
    app.cleanup_ctx.append(wecom_ctx)


async def wecom_ctx(app: web.Application) -> AsyncIterator[None]:
    config, store, engine = app[CONFIG], app[STORE], app[ENGINE]
    settings = WeComSettings.from_config(config)
    client = WeComClient(settings, WeChatTables(store))
    tables = WeComTables(store)
    offers = OfferTable(store, CHANNEL)
    cards = Cards(store, tables, client, config)
    sender = WeComSender(client, tables, offers, cards, config.media_dir)
    worker = DeliveryWorker(store, config, CHANNEL, sender, fallback=Fallback(store, config))
    people = People(engine, client)
    people.bind_configured(datetime.now(UTC))
    inbound = Inbound(client, offers, config.media_dir, settings.max_file_mb)
    app[WECOM] = WeComChannel(
        WeComEnvelope(settings), engine, inbound, people, tables, cards, worker
    )
    app[WECOM].contacts = Contacts(store, config)
    app[WECOM_WORKER] = worker
    jobs: dict[str, Job] = {
        "baoxiu-wecom-delivery": worker.run,
        "baoxiu-wecom-cards": partial(cards.sweep, every=SWEEP_SECONDS),
    }
    try:
        async with background(**jobs):
            yield
    finally:
        await client.close()


__all__ = ["PATH", "WECOM", "WECOM_WORKER", "setup", "wecom_ctx"]
