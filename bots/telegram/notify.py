"""Notices to Telegram chats, and the team offers they leave behind.

``TelegramSender`` is the ``notify.delivery.Sender`` of channel ``telegram``: it sends a
rendered notice and translates Telegram's errors into ``DeliveryError`` — a 429 keeps
its ``retry_after`` (the outbox waits at least that long), a blocked bot or a vanished
chat is not retried, a network failure is. A ``team.offer`` it sends is remembered, and
``Offers.close`` edits every offer of a job that left ``new`` to "claimed by NAME",
without the Claim button. Each Bot API call of a notice that went out is kept in the
outbox row (``parts_sent``), so a retry resumes at the first call that did not.

Nothing here decides who may claim: the workflow does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bots.telegram.render import MAX_TEXT, Outgoing, Parts
from bots.telegram.store import TelegramTables
from config.model import Config
from conversation.i18n import translate
from conversation.replies import Reply
from tickets import outbox
from tickets.errors import DeliveryError
from tickets.model import State
from tickets.store import OutboxRow, Store

log = logging.getLogger(__name__)

OFFER_KIND = "team.offer"


def chat_id(chat: str) -> int | str:
    """Telegram chat ids are integers; ``@channelname`` stays text."""
    try:
        return int(chat)
    except ValueError:
        return chat


def retry_after_seconds(exc: RetryAfter) -> float:
    value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def delivery_error(exc: TelegramError) -> DeliveryError:
    """What a Telegram error means for the outbox."""
    if isinstance(exc, RetryAfter):
        seconds = retry_after_seconds(exc)
        return DeliveryError(f"rate limited for {seconds:g}s", retry=True, retry_after=seconds)
    if isinstance(exc, Forbidden):
        return DeliveryError(f"forbidden (bot blocked or removed): {exc.message}", retry=False)
    if isinstance(exc, ChatMigrated):
        log.warning(
            "Telegram group became supergroup %s: put that id in the team's groups",
            exc.new_chat_id,
        )
        return DeliveryError(f"group moved to {exc.new_chat_id}", retry=False)
    if isinstance(exc, BadRequest):
        # "chat not found", a malformed request: the same request can only fail again.
        return DeliveryError(f"bad request: {exc.message}", retry=False)
    if isinstance(exc, InvalidToken):
        return DeliveryError("token refused by Telegram", retry=True)
    if isinstance(exc, NetworkError):  # includes TimedOut
        return DeliveryError(f"network: {exc.message}", retry=True)
    return DeliveryError(f"{type(exc).__name__}: {exc.message}", retry=True)


class Offers:
    """The team offers posted to Telegram chats, edited once the job is taken."""

    def __init__(
        self, bot: ExtBot[Any], store: Store, tables: TelegramTables, config: Config
    ) -> None:
        self.bot = bot
        self.store = store
        self.tables = tables
        self.config = config

    async def close(self, number: str) -> int:
        """Edit the job's open offers if it is no longer ``new``; return how many."""
        if not self.tables.has_open_offers(number):
            return 0
        ticket = self.store.ticket(number)
        if ticket is None or ticket.state is State.NEW:
            return 0
        edited = 0
        for offer in self.tables.take_open_offers(number):
            if ticket.holder:
                person = self.config.technician(ticket.holder)
                line = translate(
                    offer.locale,
                    "telegram.offer_claimed",
                    name=person.name if person else ticket.holder,
                )
            else:
                state = translate(offer.locale, f"states.{ticket.state.value}")
                line = translate(offer.locale, "telegram.offer_closed", state=state)
            text = f"{offer.text}\n\n{line}" if offer.text else line
            if len(text) > MAX_TEXT:
                text = line
            try:
                # Without reply_markup the Claim button goes away with the edit.
                await self.bot.edit_message_text(
                    text, chat_id=chat_id(offer.chat), message_id=offer.message_id
                )
                edited += 1
            except TelegramError as exc:
                log.warning("offer of %s in %s not edited: %s", number, offer.chat, exc)
        return edited


class TelegramSender:
    """``notify.delivery.Sender`` for channel ``telegram``."""

    def __init__(self, out: Outgoing, tables: TelegramTables, offers: Offers) -> None:
        self.out = out
        self.tables = tables
        self.offers = offers

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        store = self.tables.store

        def went_out(count: int) -> None:
            # Kept at once, so that a retry (or another worker after a crash) resumes
            # after this call rather than showing the person the same photo twice.
            outbox.mark_parts(store, notice.id, count)

        parts = Parts(notice.parts_sent, went_out)
        try:
            # No retries inside the rate limiter: a 429 goes back to the outbox, which
            # keeps the notice and tries again after retry_after.
            messages = await self.out.send(chat_id(chat), replies, retries=None, parts=parts)
        except TelegramError as exc:
            error = delivery_error(exc)
            if parts.done > notice.parts_sent:  # the attempt's record says how far it got
                reason = f"{error.reason} (after {parts.done} of the notice's calls)"
                error = DeliveryError(reason, retry=error.retry, retry_after=error.retry_after)
            raise error from exc
        if not messages:
            return ""
        last = messages[-1]
        if notice.kind == OFFER_KIND and notice.number:
            self.tables.remember_offer(
                chat, last.message_id, notice.number, notice.locale, last.text or ""
            )
        if notice.number:
            # Also right after posting an offer: the job may have been taken meanwhile.
            try:
                await self.offers.close(notice.number)
            except Exception:  # the notice itself went out: it must not be sent again
                log.exception("offers of %s not closed", notice.number)
        return str(last.message_id)
