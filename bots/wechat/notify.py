"""Notices to followers of the official account: ``WeChatSender`` is the
``notify.delivery.Sender`` of channel ``wechat``.

A notice goes as a customer-service text message (numbered choices, remembered as the
chat's standing offer so a typed number answers it). WeChat allows those only within 48
hours of the follower's last message (errcode 45015) and within a quota (45047); then it
goes as the template message configured for the notice's kind (keyword fields filled
from the ticket, a link to the web chat). When neither can be sent the notice is given
up on here (``retry=False``) and ``notify.fallback`` sends it by SMS. An unsubscribed
follower (43004) is marked so, and later notices go to the fallback without a call.
WeChat busy (-1), 45009 (API quota) and network failures are retried by the outbox.

Nothing here decides what a notice says: ``notify.render`` does.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bots.channel.choices import Offer, OfferTable, lay_out
from bots.wechat.client import WeChatClient, WeChatError
from bots.wechat.msgmenu import menu_body
from bots.wechat.settings import Template, WeChatSettings
from bots.wechat.store import WeChatTables
from config.model import Config
from conversation.i18n import translate
from conversation.replies import Reply
from tickets.errors import DeliveryError
from tickets.store import OutboxRow, Store

log = logging.getLogger(__name__)

OUTSIDE_WINDOW = 45015
OUT_OF_QUOTA = 45047
UNSUBSCRIBED = 43004
RETRIED = frozenset({-1, 45009})
THING_CHARS = 20  # a template "thing" field shows at most 20 characters


class WeChatSender:
    def __init__(
        self,
        config: Config,
        settings: WeChatSettings,
        store: Store,
        client: WeChatClient,
        tables: WeChatTables,
        offers: OfferTable,
    ) -> None:
        self.config = config
        self.settings = settings
        self.store = store
        self.client = client
        self.tables = tables
        self.offers = offers

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        if not self.tables.subscribed(chat):
            raise DeliveryError("the follower unsubscribed", retry=False)
        lines, shown = lay_out(replies, lambda k, **p: translate(notice.locale, f"wechat.{k}", **p))
        text = "\n".join(lines)
        body = {"touser": chat, "msgtype": "text", "text": {"content": text}}
        try:
            answer = await self.client.send_custom(body)
        except WeChatError as error:
            if error.code in (OUTSIDE_WINDOW, OUT_OF_QUOTA):
                return await self._template(chat, text, notice, error)
            raise _delivery_error(error, chat, self.tables) from error
        self.offers.show(chat, shown, datetime.now(UTC), notice=True)
        await self._menu(chat, shown, notice.locale)
        return str(answer.get("msgid", ""))

    async def _menu(self, chat: str, shown: Offer, locale: str) -> None:
        """The notice's short choices as a tappable menu (``bots.wechat.msgmenu``). The
        notice is delivered already, numbered lines included: a menu that fails is only
        logged, never a reason to send the notice again."""
        head, tail = (translate(locale, f"wechat.msgmenu.{k}") for k in ("head", "tail"))
        body = menu_body(chat, shown, head, tail) if self.settings.msgmenu else None
        if body is None:
            return
        try:
            await self.client.send_custom(body)
        except WeChatError as error:
            log.warning("the menu of a notice to %s was not sent: %s", chat, error)

    async def _template(self, chat: str, text: str, notice: OutboxRow, why: WeChatError) -> str:
        template = self.settings.templates.get(notice.kind)
        if template is None:
            raise DeliveryError(f"{why}; no template for {notice.kind}", retry=False)
        body = {
            "touser": chat,
            "template_id": template.id,
            "data": fill(template, self._values(text, notice)),
        }
        if self.config.web.public_url:
            body["url"] = self.config.web.public_url.rstrip("/") + "/chat"
        try:
            answer = await self.client.send_template(body)
        except WeChatError as error:
            if error.code in RETRIED or error.code is None:
                raise DeliveryError(f"template: {error}", retry=True) from error
            raise _delivery_error(error, chat, self.tables, retry=False) from error
        return f"template-{answer.get('msgid', '')}"

    def _values(self, text: str, notice: OutboxRow) -> dict[str, str]:
        values = {"number": notice.number or "", "text": text, "time": "", "state": ""}
        values |= {"category": "", "spot": ""}
        ticket = self.store.ticket(notice.number) if notice.number else None
        if ticket is not None:
            values["state"] = translate(notice.locale, f"states.{ticket.state.value}")
            values["category"] = ticket.category
            values["spot"] = ticket.spot
        values["time"] = notice.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        return values


def fill(template: Template, values: dict[str, str]) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = {}
    for name, shown in template.fields:
        value = string.Formatter().vformat(shown, (), values)
        if name.startswith("thing"):
            value = value.replace("\n", " ")[:THING_CHARS]
        data[name] = {"value": value}
    return data


def _delivery_error(
    error: WeChatError, chat: str, tables: WeChatTables, *, retry: bool | None = None
) -> DeliveryError:
    if error.code == UNSUBSCRIBED:
        tables.set_subscribed(chat, False)
        return DeliveryError("the follower unsubscribed (43004)", retry=False)
    if retry is None:
        retry = error.code in RETRIED or error.code is None
    return DeliveryError(f"WeChat {error}", retry=retry)
