"""The delivery workers of the off-chat channels, run inside the aiohttp process: ``sms``
(always: the ``log`` provider at least writes down what a fallback would send), ``phone``
(callers filed at the console, told by the same SMS provider) and ``email`` (when
``[email]`` names a server).

``delivery_ctx`` is one ``cleanup_ctx`` generator: it starts both workers with the shared
store and configuration, and on clean-up stops them (their leases go back) and closes the
provider's connections. Nothing here decides what is sent: ``notify.fallback`` queues the
copies, the workers deliver the outbox rows of their channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from bots.keys import CONFIG, STORE
from notify.delivery import DeliveryWorker
from notify.email import CHANNEL as EMAIL
from notify.email import EmailSender
from notify.sms import CHANNEL as SMS
from notify.sms import SmsSender, build_provider
from tickets.outbox import PHONE

WORKERS = web.AppKey("notify_workers", dict)
"""Channel name → its running ``DeliveryWorker`` (``sms``, and ``email`` when set up)."""


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    config, store = app[CONFIG], app[STORE]
    sms = SmsSender(build_provider(config.sms), config)
    workers: dict[str, DeliveryWorker] = {
        SMS: DeliveryWorker(store, config, SMS, sms),
        PHONE: DeliveryWorker(store, config, PHONE, sms),  # callers filed at the console
    }
    if config.email.enabled:
        workers[EMAIL] = DeliveryWorker(store, config, EMAIL, EmailSender(config))
    app[WORKERS] = workers
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(worker.run(stop), name=f"baoxiu-{name}-delivery")
        for name, worker in workers.items()
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sms.close()
