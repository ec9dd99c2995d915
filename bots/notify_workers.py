"""The delivery workers of the off-chat channels, run inside the aiohttp process: ``sms``
(always: the ``log`` provider at least writes down what a fallback would send), ``phone``
(callers filed at the console, told by the same SMS provider) and ``email`` (when
``[email]`` names a server).

``delivery_ctx`` is one ``cleanup_ctx`` generator: it starts the workers with the shared
store and configuration, on an event loop of their own (``bots.offloop``), and on
clean-up stops them (their leases go back) and closes the provider's connections.
Nothing here decides what is sent: ``notify.fallback`` queues the copies, the workers
deliver the outbox rows of their channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from bots.keys import CONFIG, STORE
from bots.offloop import OffLoop, OffLoopWorker
from notify.email import CHANNEL as EMAIL
from notify.email import EmailSender
from notify.sms import CHANNEL as SMS
from notify.sms import SmsSender, build_provider
from tickets.outbox import PHONE

WORKERS = web.AppKey("notify_workers", dict)
"""Channel name → its running ``DeliveryWorker`` (``sms``, and ``email`` when set up)."""


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    # On a loop of its own (bots.offloop): the passes wait for the store's lock, and the
    # providers' client sessions are made and closed on that loop.
    config, store = app[CONFIG], app[STORE]
    off = OffLoop("baoxiu-delivery")
    sms = SmsSender(build_provider(config.sms), config)
    workers: dict[str, OffLoopWorker] = {
        SMS: OffLoopWorker(store, config, SMS, sms),
        PHONE: OffLoopWorker(store, config, PHONE, sms),  # callers filed at the console
    }
    if config.email.enabled:
        workers[EMAIL] = OffLoopWorker(store, config, EMAIL, EmailSender(config))
    for worker in workers.values():
        worker.off = off
    app[WORKERS] = workers
    stop = asyncio.Event()
    running = [off.start(worker.run(stop)) for worker in workers.values()]
    try:
        yield
    finally:
        off.call(stop.set)
        await asyncio.gather(*running, return_exceptions=True)
        await off.run(sms.close())
        await off.close()
