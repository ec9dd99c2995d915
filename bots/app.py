"""The aiohttp application of baoxiu: the one place where the real store, engine and
delivery workers are wired together.

App state is typed (``bots.keys``); each resource has one ``cleanup_ctx`` generator that
opens it and closes it. Every response carries the security headers. Routes here are
the service's own (``/``, ``/healthz``); each channel adds its own.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
from collections.abc import AsyncIterator

from aiohttp import web

from bots import health, notify_workers, scheduler, serving, telegram, wechat
from bots.access_log import QuietAccessLogger
from bots.engine import Engine, private_folder
from bots.engine import open_store as open_config_store
from bots.keys import CONFIG, ENGINE, INBOX, STORE, WORKER
from bots.offloop import OffLoop, OffLoopWorker
from bots.web import chat as webchat
from bots.web import console
from bots.web.inbox import InboxSender, WebInbox
from config.model import Config
from conversation.i18n import translate
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

HEADER_SECONDS = 15.0
"""A connection that has not completed a request by then is closed, and so is one idle
that long between requests (aiohttp's keep-alive timer runs from the connection's start):
300 clients trickling their headers once held their connections for good (issue 10,
defect 8). Bodies have their own deadlines (``bots.web.chat``)."""

log = logging.getLogger(__name__)


def build_app(config: Config, *, store: Store | None = None) -> web.Application:
    """The application. A ``store`` given here stays open (its owner closes it); without
    one the app opens ``config.database`` on start-up and closes it on clean-up."""
    app = web.Application()
    app[CONFIG] = config

    async def open_store(app: web.Application) -> AsyncIterator[None]:
        private_folder(config.media_dir)
        if store is not None:
            app[STORE] = store
            yield
            return
        opened = open_config_store(config)
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
    wechat.setup(app)  # only when [channels.wechat] is configured
    _wecom(app)  # only when [channels.wecom] is configured
    health.setup(app)  # /readyz, /metrics, timings, backups, privacy sweep, service lock
    console.setup(app)  # the staff console, /console
    return app


async def _engine(app: web.Application) -> AsyncIterator[None]:
    app[STORE].checkpoint_in_background()  # no message's commit waits for a checkpoint
    app[ENGINE] = Engine(app[STORE], app[CONFIG])
    yield


async def _inbox(app: web.Application) -> AsyncIterator[None]:
    inbox = WebInbox(app[STORE])
    app[INBOX] = inbox
    yield
    inbox.finish()


async def _web_delivery(app: web.Application) -> AsyncIterator[None]:
    # On a loop of its own (bots.offloop): its passes wait for the store's lock.
    worker = OffLoopWorker(app[STORE], app[CONFIG], "web", InboxSender(app[INBOX]))
    app[WORKER] = worker
    worker.off = off = OffLoop("baoxiu-web-delivery")
    stop = asyncio.Event()
    running = off.start(worker.run(stop))
    yield
    off.call(stop.set)
    await running
    await off.close()


async def _release_pollers(app: web.Application) -> None:
    app[INBOX].close()


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/chat")


async def _healthz(request: web.Request) -> web.StreamResponse:
    # Alive, and nothing more: how many tickets exist is nobody's business out there.
    return web.json_response({"ok": True})


def run(config: Config) -> None:
    """Serve until interrupted on ``config.web.host``:``config.web.port``.

    The port is bound before anything is started, so a busy port is one clear line and
    exit status 2 rather than "serving at …" followed by a traceback."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        sock = _listen(config.web.host, config.web.port)
    except OSError as error:
        key = "cli.port_in_use" if error.errno == errno.EADDRINUSE else "cli.cannot_listen"
        text = translate(
            config.locale, key, host=config.web.host, port=config.web.port, reason=error.strerror
        )
        print(text, file=sys.stderr)
        raise SystemExit(2) from None
    base = (config.web.public_url or f"http://{config.web.host}:{config.web.port}").rstrip("/")
    log.info("baoxiu is serving the web chat at %s/chat (health: %s/healthz)", base, base)
    busy = serving.busy_response(translate(config.locale, "cli.too_many_connections"))
    serving.serve(
        build_app(config),
        sock,
        cap=config.web.max_connections,
        busy=busy,
        access_log_class=QuietAccessLogger,
        keepalive_timeout=HEADER_SECONDS,
    )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's own sites
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _wecom(app: web.Application) -> None:
    """The WeCom app (``bots.wecom``), when ``[channels.wecom]`` is configured."""
    from bots import wecom

    wecom.setup(app)
