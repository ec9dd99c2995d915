"""Notices and dialogue replies to WeCom members: ``WeComSender`` is the
``notify.delivery.Sender`` of channel ``wecom``.

A job offer (``team.offer``, ``team.reoffer``) goes as a template card with its 抢单
button (``bots.wecom.cards``), remembered so it can be updated once the job is taken.
Anything else goes as text (``message/send`` of ``msgtype`` text): choices as numbered
lines, remembered as the chat's standing offer so that a typed number answers them. Its
photos (the reporter's on a job card) go first, as image messages (uploaded once with
``media/upload``; WeCom keeps such media 3 days). A text over WeCom's 2,048 bytes goes
in parts; each image and each part is recorded as sent (``parts_sent``), so that a retry
resumes after it. WeCom busy (-1), 45009/45033 (frequency limits) and
network failures are retried by the outbox with its backoff; a member outside the app's
visible range (``invaliduser``) or any other refusal is not.

Nothing here decides what a notice says: ``notify.render`` does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bots.channel.choices import OfferTable, lay_out
from bots.channel.media import image_type
from bots.wechat.callback import split
from bots.wecom.cards import OFFER_KINDS, RETRIED, Cards, offer_card, task_id
from bots.wecom.client import WeChatError, WeComClient
from bots.wecom.store import Card, WeComTables
from conversation.i18n import translate
from conversation.replies import Reply, ShowPhotos
from tickets import outbox
from tickets.errors import DeliveryError
from tickets.store import OutboxRow

log = logging.getLogger(__name__)

MAX_TEXT_BYTES = 2000  # WeCom cuts a text message at 2,048 bytes
MEDIA_SECONDS = 2 * 24 * 3600.0
"""An uploaded photo's media_id is used this long (WeCom keeps it 3 days)."""


class WeComSender:
    def __init__(
        self,
        client: WeComClient,
        tables: WeComTables,
        offers: OfferTable,
        cards: Cards,
        media_dir: Path,
    ) -> None:
        self.client = client
        self.tables = tables
        self.offers = offers
        self.cards = cards
        self.media_dir = media_dir
        self._uploaded: dict[str, tuple[str, float]] = {}  # photo ref -> (media_id, when)

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        if notice.kind in OFFER_KINDS and notice.number:
            task = task_id(notice.number, notice.id)
            body = offer_card(chat, replies, task)
            if body is not None:
                return await self._card(chat, body, task, notice)
        lines, shown = lay_out(replies, lambda k, **p: translate(notice.locale, f"wecom.{k}", **p))
        parts: list[tuple[str, str]] = [
            ("image", ref) for r in replies if isinstance(r, ShowPhotos) for ref in r.refs
        ]
        rest = "\n".join(lines)
        while rest:
            part, rest = split(rest, MAX_TEXT_BYTES)
            parts.append(("text", part))
        message_id = ""
        for index in range(notice.parts_sent, len(parts)):
            kind, value = parts[index]
            body = await self._image(chat, value) if kind == "image" else _text(chat, value)
            if body is not None:
                answer = await self._send(chat, body, after=index)
                message_id = str(answer.get("msgid", ""))
            outbox.mark_parts(self.tables.store, notice.id, index + 1)
        self.offers.show(chat, shown, datetime.now(UTC), notice=notice.kind != outbox.REPLY_KIND)
        return message_id

    async def _card(self, chat: str, body: dict[str, object], task: str, notice: OutboxRow) -> str:
        answer = await self._send(chat, body, after=0)
        code = str(answer.get("response_code", ""))
        assert notice.number is not None
        card = Card(task, notice.number, chat, notice.locale, code)
        self.tables.remember_card(card, datetime.now(UTC))
        try:
            await self.cards.close(notice.number)  # taken while the card was on its way
        except Exception:  # the card itself went out: it must not be sent again
            log.exception("cards of %s not closed", notice.number)
        return str(answer.get("msgid", ""))

    async def _send(self, chat: str, body: dict[str, object], *, after: int) -> dict[str, object]:
        try:
            answer = await self.client.send(body)
        except WeChatError as error:
            retry = error.code in RETRIED or error.code is None
            done = f" (after {after} parts)" if after else ""
            raise DeliveryError(f"WeCom {error}{done}", retry=retry) from error
        if answer.get("invaliduser"):
            raise DeliveryError(
                f"{chat} is not a member the app may reach (invaliduser)", retry=False
            )
        return answer

    async def _image(self, chat: str, ref: str) -> dict[str, object] | None:
        """The image message of a photo; None when its file is gone (swept or deleted)."""
        cached = self._uploaded.get(ref)
        if cached is None or time.monotonic() - cached[1] > MEDIA_SECONDS:
            path = self.media_dir / ref
            try:
                data = path.read_bytes()
            except OSError as error:
                log.warning("photo %s not sent to %s: %s", ref, chat, error)
                return None
            kind = image_type(data[:16]) or "image/jpeg"
            try:
                media_id = await self.client.upload_image(data, path.name, kind)
            except WeChatError as error:
                retry = error.code in RETRIED or error.code is None
                raise DeliveryError(f"WeCom upload: {error}", retry=retry) from error
            cached = (media_id, time.monotonic())
            self._uploaded[ref] = cached
        return {"touser": chat, "msgtype": "image", "image": {"media_id": cached[0]}}


def _text(chat: str, text: str) -> dict[str, object]:
    return {"touser": chat, "msgtype": "text", "text": {"content": text}}
