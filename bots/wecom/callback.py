"""The WeCom app's callback route (``/wecom``): WeCom's requests in, an empty answer out.

GET is the URL handshake: the encrypted ``echostr`` is verified and echoed decrypted.
POST is a message or an event, verified and opened by ``bots.wecom.crypto`` (forged,
stale, another corporation's or another app's: 403, nothing changes). The sender is
identified (``bots.wecom.people``), the message becomes a conversation event
(``bots.wecom.inbound``: text, location, image, voice; a press on a card's button the
``Button`` of its key, exactly as on Telegram), and the engine runs it.

The step's replies are not sent from here: they are queued in the outbox as dialogue
replies in the step's own transaction (with the callback's key in
``processed_updates``), so the answer to WeCom is immediate, a crash loses nothing, and
WeCom's retry of a callback — while the first is still at work, or after — never makes
a second step. The ``wecom`` delivery worker sends them, in order, with retries. After a
press, the cards of a job that was taken are updated at once.

No dialogue logic here: what to answer is ``conversation``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bots.engine import Engine
from bots.telegram.album import ChatLocks
from bots.wechat.store import callback_key
from bots.wecom.cards import Cards
from bots.wecom.contacts import Contacts, is_contact_change
from bots.wecom.crypto import Refused, WeComEnvelope
from bots.wecom.inbound import CARD_EVENT, Inbound, NotTaken, Taken
from bots.wecom.people import People
from bots.wecom.store import CHANNEL, WeComTables
from conversation.events import Button
from conversation.i18n import translate
from conversation.replies import Reply, Say
from notify import kept
from notify.delivery import DeliveryWorker
from notify.limits import REPLY
from tickets import outbox

log = logging.getLogger(__name__)

RETRY_WAIT_SECONDS = 4.0
"""How long a retry waits for the first delivery of the same callback to finish."""
MAX_BODY_BYTES = 64 * 1024


class WeComChannel:
    contacts: Contacts | None = None  # 通讯录 changes (bots.wecom.contacts), set by wecom_ctx

    def __init__(
        self,
        envelope: WeComEnvelope,
        engine: Engine,
        inbound: Inbound,
        people: People,
        tables: WeComTables,
        cards: Cards,
        worker: DeliveryWorker,
    ) -> None:
        self.envelope = envelope
        self.engine = engine
        self.inbound = inbound
        self.people = people
        self.tables = tables
        self.cards = cards
        self.worker = worker
        self._running: dict[str, asyncio.Future[None]] = {}  # steps at work, by key
        self._locks = ChatLocks()

    async def handshake(self, request: web.Request) -> web.StreamResponse:
        try:
            echo = self.envelope.check_url(request.query)
        except Refused as why:
            log.warning("WeCom handshake refused: %s", why)
            raise web.HTTPForbidden() from None
        return web.Response(text=echo)

    async def callback(self, request: web.Request) -> web.StreamResponse:
        body = await request.content.read(MAX_BODY_BYTES + 1)
        try:
            fields = self.envelope.open(request.query, body)
        except Refused as why:
            log.warning("WeCom callback refused: %s", why)
            raise web.HTTPForbidden() from None
        key = callback_key(fields)
        step = self._running.get(key)
        if step is not None:  # WeCom's retry while the first is still at work
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(step), RETRY_WAIT_SECONDS)
            return web.Response(text="")
        if self.tables.store.query(
            "SELECT 1 FROM processed_updates WHERE channel = ? AND update_id = ?", [CHANNEL, key]
        ):
            return web.Response(text="")  # a redelivery of what was handled
        # A task of its own, shielded: a dropped connection must not cancel the step
        # halfway; WeCom's retry then finds it done (or still at work) instead.
        step = asyncio.ensure_future(self._step(key, fields))
        self._running[key] = step
        step.add_done_callback(lambda _: self._running.pop(key, None))
        await asyncio.shield(step)
        return web.Response(text="")

    async def _step(self, key: str, fields: dict[str, Any]) -> None:
        if self.contacts is not None and is_contact_change(fields):  # from "sys", not a member
            return self.contacts.changed(key, fields, datetime.now(UTC))
        userid = str(fields.get("FromUserName", ""))
        if not userid:
            return
        # A member's messages are handled in the order they came: a picture still being
        # downloaded must not let the "submit" typed after it finish the job without it.
        async with self._locks.hold(userid):
            await self._handle(key, userid, fields)

    async def _handle(self, key: str, userid: str, fields: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        await self.people.identify(userid, now)
        pressed = str(fields.get("Event", "")) == CARD_EVENT
        if pressed:
            self.tables.pressed(
                str(fields.get("TaskId") or ""), userid, str(fields.get("ResponseCode") or "")
            )
        event: Taken = await self.inbound.event_of(
            fields, lambda: self.engine.wants_photo(CHANNEL, userid)
        )
        try:
            with self.engine.store.transaction():
                if not self.engine.store.record_update(CHANNEL, key):
                    return  # another process took it meanwhile
                if isinstance(event, NotTaken):
                    locale = self.engine.locale_of(CHANNEL, userid)
                    self._keep(userid, [Say(event.text(locale))], now)
                elif event is not None:
                    spoken: list[str] = []  # the step's locale, filled before keep runs
                    self.engine.handle(
                        CHANNEL,
                        userid,
                        event,
                        now,
                        can_share_location=True,
                        keep=lambda replies: self._keep(userid, replies, now, spoken),
                        spoken=spoken,
                    )
        except Exception:
            # The step rolled back (its key too). WeCom got its answer and will not send
            # it again: the member is asked to, rather than left without a word.
            log.exception("WeCom callback %s of %s failed", key, userid)
            with contextlib.suppress(Exception):
                locale = self.engine.locale_of(CHANNEL, userid)
                self._keep(userid, [Say(translate(locale, "errors.generic"))], now)
            self.worker.wake()
            return
        self.worker.wake()
        number = _number_of(event.data) if pressed and isinstance(event, Button) else ""
        if number:
            try:
                await self.cards.close(number)
            except Exception:  # the claim stands; the sweep updates the cards later
                log.exception("cards of %s not updated after a press", number)

    def _keep(
        self, userid: str, replies: Sequence[Reply], now: datetime, spoken: Sequence[str] = ()
    ) -> None:
        """Queue the step's replies as a dialogue reply (lane 0) in its transaction
        (``spoken``: their locale when the step said it, else it is read)."""
        if not replies:
            return
        outbox.queue(
            self.engine.store,
            key=f"reply:{userid}:{uuid.uuid4().hex}",
            number=None,
            event_id=None,
            kind=outbox.REPLY_KIND,
            channel=CHANNEL,
            chat=userid,
            locale=spoken[0] if spoken else self.engine.locale_of(CHANNEL, userid),
            params={"replies": kept.encode(replies)},
            priority=REPLY,
            now=now,
        )


def _number_of(data: str) -> str:
    """The ticket number in a button payload (``t:claim:<N>``), if any."""
    parts = data.split(":")
    return parts[2].strip().upper() if len(parts) >= 3 and parts[2].upper().startswith("BX") else ""
