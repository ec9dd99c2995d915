"""The aiohttp application of baoxiu: the one place where the real store, engine and
delivery workers are wired together, and the web chat's inbox lives.

App state is typed (``web.AppKey``); each resource has one ``cleanup_ctx`` generator that
opens it and closes it. Every response carries the security headers. Routes here are
the service's own (``/``, ``/healthz``); the web chat's are in ``bots.webchat``.

The web chat's inbox (``web_messages``, ``web_media``) is this server's own table in the
store's file: every reply, every resident message and every notice a web chat was shown,
in order, so the page can long-poll it and a reload shows the whole conversation.
Nothing here decides anything about tickets or dialogues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bots.engine import Engine
from config.model import Config
from conversation.replies import (
    Ask,
    RemoveKeyboard,
    Reply,
    RequestContact,
    RequestLocation,
    ShowPhotos,
)
from notify.delivery import DeliveryWorker
from tickets.store import OutboxRow, Store

log = logging.getLogger(__name__)

PAGE = 100
"""Most messages one inbox read returns."""

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


# -- the inbox ------------------------------------------------------------------------
class WebInbox:
    """What each web chat has seen, in order, and the long-pollers waiting for more."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.closing = False
        messages, media = store.db.table("web_messages"), store.db.table("web_media")
        with store.transaction():
            messages.create(
                {"seq": int, "chat": str, "at": str, "kind": str, "payload": str, "key": str},
                pk="seq",
                not_null={"chat", "at", "kind", "payload"},
                if_not_exists=True,
            )
            messages.create_index(["chat", "seq"], if_not_exists=True)
            # A notice delivered twice (crash before mark_sent) is shown once.
            messages.create_index(["key"], unique=True, if_not_exists=True)
            media.create({"chat": str, "ref": str}, pk=("chat", "ref"), if_not_exists=True)

    def append(
        self,
        chat: str,
        payloads: Iterable[tuple[str, dict[str, Any]]],
        now: datetime,
        *,
        key: str | None = None,
    ) -> int:
        """Store (kind, payload) messages of ``chat``; wake its pollers; return the last seq."""
        db = self.store.db
        with self.store.transaction():
            for i, (kind, payload) in enumerate(payloads):
                db.execute(
                    "INSERT INTO web_messages (chat, at, kind, payload, key) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT(key) DO NOTHING",
                    [
                        chat,
                        now.isoformat(),
                        kind,
                        json.dumps(payload, ensure_ascii=False),
                        f"{key}#{i}" if key else None,
                    ],
                )
                for ref in payload.get("photos", ()):
                    db.execute(
                        "INSERT OR IGNORE INTO web_media (chat, ref) VALUES (?, ?)", [chat, ref]
                    )
        self.notify(chat)
        return self.last_seq(chat)

    def messages(self, chat: str, after: int, limit: int = PAGE) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT seq, at, kind, payload FROM web_messages WHERE chat = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            [chat, after, limit],
        )
        return [
            {"seq": r["seq"], "at": r["at"], "kind": r["kind"], **json.loads(r["payload"])}
            for r in rows
        ]

    def last_seq(self, chat: str) -> int:
        [row] = self.store.query(
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM web_messages WHERE chat = ?", [chat]
        )
        return int(row["seq"])

    def label_of(self, chat: str, data: str) -> str:
        """The label of the button ``data`` as this chat was last shown it ("" if never)."""
        rows = self.store.query(
            "SELECT payload FROM web_messages WHERE chat = ? AND kind != 'user'"
            " ORDER BY seq DESC LIMIT 50",
            [chat],
        )
        for row in rows:
            for choice in json.loads(row["payload"]).get("choices", ()):
                if choice.get("data") == data:
                    return str(choice.get("label", ""))
        return ""

    def may_see(self, chat: str, ref: str) -> bool:
        rows = self.store.query("SELECT 1 FROM web_media WHERE chat = ? AND ref = ?", [chat, ref])
        return next(iter(rows), None) is not None

    async def wait(self, chat: str, timeout: float) -> None:
        """Return when ``chat`` gets a message, after ``timeout`` seconds, or on shutdown."""
        if self.closing or timeout <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(chat, set())
        waiters.add(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
        finally:
            waiters.discard(future)
            if not waiters and self._waiters.get(chat) is waiters:
                del self._waiters[chat]

    def notify(self, chat: str) -> None:
        for future in self._waiters.get(chat, ()):
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """Release every long-poller so the server can stop without waiting for them."""
        self.closing = True
        for chat in list(self._waiters):
            self.notify(chat)


class InboxSender:
    """The ``web`` channel's ``Sender``: a notice is delivered by putting it in the inbox."""

    def __init__(self, inbox: WebInbox) -> None:
        self.inbox = inbox

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        now = datetime.now(UTC)
        seq = self.inbox.append(
            chat, (("notice", payload(r)) for r in replies), now, key=notice.key
        )
        return str(seq)


def payload(reply: Reply) -> dict[str, Any]:
    """One reply as the JSON the page renders (text only, never markup)."""
    if isinstance(reply, ShowPhotos):
        return {"text": reply.caption, "photos": list(reply.refs)}
    body: dict[str, Any] = {"text": reply.text}
    if isinstance(reply, Ask):
        body["choices"] = [{"label": c.label, "data": c.data} for c in reply.choices]
        body["inline"] = reply.inline
    elif isinstance(reply, RequestContact):
        body["request_contact"] = reply.button
    elif isinstance(reply, RequestLocation):
        body["request_location"] = reply.button
    elif isinstance(reply, RemoveKeyboard):
        body["remove_keyboard"] = True
    return body


CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
ENGINE = web.AppKey("engine", Engine)
INBOX = web.AppKey("web_inbox", WebInbox)
WORKER = web.AppKey("web_worker", DeliveryWorker)
"""Delivers the outbox of channel ``web`` into the inbox; wake it after queuing notices."""


def build_app(config: Config, *, store: Store | None = None) -> web.Application:
    """The application. A ``store`` given here stays open (its owner closes it); without
    one the app opens ``config.database`` on start-up and closes it on clean-up."""
    # Imported here: both read this module's AppKeys.
    from bots import notify_workers, scheduler, telegram, webchat

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
