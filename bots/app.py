"""The aiohttp application of baoxiu: the one place where the real store, engine and
delivery workers are wired together.

App state is typed (``bots.keys``); each resource has one ``cleanup_ctx`` generator that
opens it and closes it. Every response carries the security headers. Routes here are
the service's own (``/``, ``/healthz``); each channel adds its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bots import notify_workers, scheduler, telegram
from bots.engine import Engine
from bots.keys import CONFIG, ENGINE, INBOX, STORE, WORKER
from bots.web import chat as webchat
from bots.web.inbox import InboxSender, WebInbox
from config.model import Config
from notify.delivery import DeliveryWorker
from tickets.store import Store

CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

log = logging.getLogger(__name__)


def build_app(config: Config, *, store: Store | None = None) -> web.Application:
    """The application. A ``store`` given here stays open (its owner closes it); without
    one the app opens ``config.database`` on start-up and closes it on clean-up."""
    app = web.Application()
    app[CONFIG] = config

    async def open_store(app: web.Application) -> AsyncIterator[None]:
        config.media_dir.mkdir(parents=True, exist_ok=True)
        if store is not None:
            app[STORE] = store
            yield
            return
        config.database.parent.mkdir(parents=True, exist_ok=True)
        opened = Store(config.database, config)
        app[STORE] = opened
        try:
            yield
        finally:
            opened.close()

    app.cleanup_ctx.append(open_store)
    app.cleanup_ctx.append(_engine)
    app.cleanup_ctx.append(_inbox)
    app.cleanup_ctx.append(_web_delivery)
    app.cleanup_ctx.append(scheduler.scheduler_ctx)  # reminders, escalations, auto-close
    app.cleanup_ctx.append(notify_workers.delivery_ctx)  # sms, email
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_release_pollers)
    app.router.add_get("/", _root)
    app.router.add_get("/healthz", _healthz)
    if config.web.enabled:
        webchat.setup(app)
    telegram.setup(app)  # only when [channels.telegram] is configured
    return app


async def _engine(app: web.Application) -> AsyncIterator[None]:
    app[ENGINE] = Engine(app[STORE], app[CONFIG])
    yield


async def _inbox(app: web.Application) -> AsyncIterator[None]:
    inbox = WebInbox(app[STORE])
    app[INBOX] = inbox
    yield
    inbox.close()


async def _web_delivery(app: web.Application) -> AsyncIterator[None]:
    worker = DeliveryWorker(app[STORE], app[CONFIG], "web", InboxSender(app[INBOX]))
    app[WORKER] = worker
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="baoxiu-web-delivery")
    yield
    stop.set()
    await task


async def _release_pollers(app: web.Application) -> None:
    app[INBOX].close()


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/chat")


async def _healthz(request: web.Request) -> web.StreamResponse:
    # The store is synchronous; a COUNT on the local file is quick enough for the loop.
    [row] = request.app[STORE].query("SELECT COUNT(*) AS n FROM tickets")
    return web.json_response({"ok": True, "tickets": int(row["n"])})


def run(config: Config) -> None:
    """Serve until interrupted on ``config.web.host``:``config.web.port``."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    base = (config.web.public_url or f"http://{config.web.host}:{config.web.port}").rstrip("/")
    log.info("baoxiu is serving the web chat at %s/chat (health: %s/healthz)", base, base)
    web.run_app(build_app(config), host=config.web.host, port=config.web.port, print=None)
