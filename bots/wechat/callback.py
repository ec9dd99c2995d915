"""The official account's callback route (``/wechat``): WeChat's requests in, answers out.

GET is the URL handshake (``echostr`` back when the signature holds). POST is a message
or an event: verified and opened by ``bots.wechat.crypto`` (a forged, stale or foreign
one is 403 and changes nothing), translated by ``bots.wechat.inbound``, run through the
engine, and answered in the same HTTP response as a passive text reply (choices as
numbered lines, ``bots.channel.choices``) — well inside WeChat's 5 s. What does not fit
in one reply (2,000 bytes) follows as customer-service messages, and so do short choice
lists as a tappable menu (``bots.wechat.msgmenu``; the numbered lines stay).

WeChat retries a callback it got no answer to within 5 s, with the same MsgId (events
are keyed on their whole content: ``store.callback_key``). The key is recorded in
``processed_updates`` in the transaction of the step and the reply next to it, so a
retry — while the first is still running in this process, or after it finished in any
process — gets the same reply and never a second step.

All the store work of a callback — the key, the step, the offer shown, the answer — is
one transaction with no reads before it (a redelivery is found by the key's INSERT).
It runs on the event loop: handing it to a writer thread (``bots.web.writer``) was
measured slower here (bench/wechat.py, 2 cores: the thread and the loop take turns on the
GIL, and each hand-off adds a wake-up), so the image download is the only await.

No dialogue logic here: what to answer is ``conversation``'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bots.channel.choices import OfferTable, lay_out
from bots.channel.inbound import NotTaken
from bots.engine import Engine
from bots.wechat.client import WeChatError
from bots.wechat.crypto import Envelope, Refused
from bots.wechat.inbound import Inbound
from bots.wechat.msgmenu import menu_body
from bots.wechat.store import CHANNEL, WeChatTables, callback_key
from config.model import Config
from conversation.events import Photo
from conversation.i18n import translate
from conversation.replies import Reply

log = logging.getLogger(__name__)

RETRY_WAIT_SECONDS = 4.0
"""How long a retry waits for the first delivery of the same callback to finish."""
MAX_REPLY_BYTES = 2000  # WeChat cuts passive text replies at 2048 bytes
SUCCESS = "success"  # WeChat's "received, nothing to say"


class WeChatChannel:
    def __init__(
        self,
        config: Config,
        envelope: Envelope,
        engine: Engine,
        tables: WeChatTables,
        offers: OfferTable,
        inbound: Inbound,
    ) -> None:
        self.config = config
        self.envelope = envelope
        self.engine = engine
        self.tables = tables
        self.offers = offers
        self.inbound = inbound
        self._running: dict[str, asyncio.Future[str]] = {}  # steps at work, by key
        self._sending: set[asyncio.Task[None]] = set()  # what follows replies

    async def handshake(self, request: web.Request) -> web.StreamResponse:
        try:
            self.envelope.check_url(request.query)
        except Refused as why:
            log.warning("WeChat handshake refused: %s", why)
            raise web.HTTPForbidden() from None
        return web.Response(text=request.query.get("echostr", ""))

    async def callback(self, request: web.Request) -> web.StreamResponse:
        body = await request.content.read(64 * 1024 + 1)
        try:
            fields = self.envelope.open(request.query, body)
        except Refused as why:
            log.warning("WeChat callback refused: %s", why)
            raise web.HTTPForbidden() from None
        key = callback_key(fields)
        answer = await self._answer(key, fields)
        if answer == SUCCESS:
            return web.Response(text=SUCCESS)
        return web.Response(
            text=self.envelope.seal(request.query, answer), content_type="application/xml"
        )

    async def _answer(self, key: str, fields: dict[str, Any]) -> str:
        step = self._running.get(key)
        if step is not None:  # WeChat's retry while the first is still at work
            try:
                return await asyncio.wait_for(asyncio.shield(step), RETRY_WAIT_SECONDS)
            except TimeoutError:
                return SUCCESS
        # A task of its own, shielded: WeChat drops a connection it waited 5 s on, which
        # cancels the request's handler — the step must finish anyway, once, so that the
        # retry finds its answer instead of running it again.
        step = asyncio.ensure_future(self._step(key, fields))
        self._running[key] = step
        step.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(step)

    async def _step(self, key: str, fields: dict[str, Any]) -> str:
        chat = str(fields.get("FromUserName", ""))
        if not chat:
            return SUCCESS
        try:
            photo: Photo | NotTaken | None = None
            if self.inbound.has_photo(fields):
                # The checks (and a redelivery's stored answer) before the download.
                known, photo = self._before_photo(key, chat)
                if known is not None:
                    return known
                if photo is None:
                    photo = await self.inbound.fetch_photo(fields)
            with self.engine.store.transaction():
                reply, follow = self._run(key, chat, fields, photo)
        except Exception:
            # The step rolled back (its key too), so WeChat's retry may try it again.
            log.exception("WeChat callback %s of %s failed", key, chat)
            locale = self.engine.locale_of(CHANNEL, chat)
            return self._xml(fields, translate(locale, "errors.generic"))
        if follow:
            task = asyncio.create_task(self._send_after(chat, follow))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return reply

    def _before_photo(self, key: str, chat: str) -> tuple[str | None, NotTaken | None]:
        """The stored answer of a redelivery, else why the image is not downloaded
        (None: download it)."""
        known = self.tables.answer_of(key)
        if known is not None:
            return known, None
        wanted = self.engine.wants_photo(CHANNEL, chat)
        return None, self.inbound.photo_allowed(chat, wanted, datetime.now(UTC))

    def _run(
        self, key: str, chat: str, fields: dict[str, Any], photo: Photo | NotTaken | None
    ) -> tuple[str, list[dict[str, Any]]]:
        """Inside the callback's transaction: the key, the step, the offer shown and the
        answer kept — all or nothing. (The answer; the customer-service messages that
        follow it: the rest of a long reply, the choices as a menu.)"""
        if not self.tables.take(key):  # a redelivery (this or another process took it)
            return self.tables.answer_of(key) or SUCCESS, []
        now = datetime.now(UTC)
        event_kind = str(fields.get("Event", "")).lower()
        if event_kind in ("subscribe", "unsubscribe"):
            self.tables.set_subscribed(chat, event_kind == "subscribe")
        if isinstance(photo, Photo):
            self.tables.took_photo(chat, now)
        event = self.inbound.event_of(fields, photo)
        menu: dict[str, Any] | None = None
        if isinstance(event, NotTaken):
            text = event.text(self.engine.locale_of(CHANNEL, chat))
        elif event is None:
            text = ""
        else:
            spoken: list[str] = []
            replies = self.engine.handle(
                CHANNEL, chat, event, now, can_share_location=True, spoken=spoken
            )
            locale = spoken[0] if spoken else self.engine.locale_of(CHANNEL, chat)
            text, menu = self._lay_out(chat, replies, now, locale)
        head, rest = split(text)
        follow = []
        while rest:
            part, rest = split(rest)
            follow.append({"touser": chat, "msgtype": "text", "text": {"content": part}})
        reply = self._xml(fields, head) if head else SUCCESS
        self.tables.answered(key, reply, now)
        return reply, [*follow, *([menu] if menu else [])]

    async def _send_after(self, chat: str, bodies: list[dict[str, Any]]) -> None:
        """Customer-service messages after the passive reply (the follower just wrote,
        so the 48-hour window is open); the first failure stops the rest."""
        for body in bodies:
            try:
                await self.inbound.client.send_custom(body)
            except WeChatError as error:
                log.warning("a %s message to %s was not sent: %s", body["msgtype"], chat, error)
                return

    def _lay_out(
        self, chat: str, replies: Sequence[Reply], now: datetime, locale: str
    ) -> tuple[str, dict[str, Any] | None]:
        """The replies as text, and the menu of their choices (``msgmenu`` on and short)."""
        lines, shown = lay_out(replies, lambda k, **p: translate(locale, f"wechat.{k}", **p))
        # A dialogue's replies replace the whole offer (``choices.merge`` without notice):
        # put, not show, which would read the old offer only to drop it.
        self.offers.put(chat, shown, now)
        menu = None
        if self.envelope.settings.msgmenu and shown.choices:
            head, tail = (translate(locale, f"wechat.msgmenu.{k}") for k in ("head", "tail"))
            menu = menu_body(chat, shown, head, tail)
        return "\n".join(lines), menu

    @staticmethod
    def _xml(fields: dict[str, Any], text: str) -> str:
        """A passive text reply (wechatpy's ``TextReply`` layout, rendered directly)."""
        return (
            f"<xml>\n<ToUserName>{_cdata(fields.get('FromUserName', ''))}</ToUserName>\n"
            f"<FromUserName>{_cdata(fields.get('ToUserName', ''))}</FromUserName>\n"
            f"<CreateTime>{int(time.time())}</CreateTime>\n"
            f"<MsgType><![CDATA[text]]></MsgType>\n<Content>{_cdata(text)}</Content>\n</xml>"
        )


def _cdata(value: object) -> str:
    """``value`` as CDATA; a ``]]>`` inside (which would end it) is split across two."""
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def split(text: str, limit: int = MAX_REPLY_BYTES) -> tuple[str, str]:
    """``text`` as (what fits in ``limit`` UTF-8 bytes, the rest), cut at a line end
    when there is one in the part that fits."""
    data = text.encode()
    if len(data) <= limit:
        return text, ""
    head = data[:limit].decode(errors="ignore")
    if "\n" in head:
        head = head[: head.rfind("\n")]
    return head, text[len(head) :].lstrip("\n")
