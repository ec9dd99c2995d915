"""Dialogue replies to a Telegram chat: sent at once, or kept in the outbox when the
platform cannot take them now, with a job card placed by ``bots.telegram.cards``.

A reply the platform cannot take at the moment (a 502, a time-out) is kept as a lane-0
outbox row and retried like a notice (bounded by max_attempts), before later messages
to that chat: a later reply waits behind it too (issue 10, defect 6). A reply that can
never go (blocked bot) raises for the caller to log.

No dialogue logic: the replies were decided by the engine.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from telegram.error import TelegramError

from bots.engine import Engine
from bots.telegram.cards import Cards, find_card, may_hold_card
from bots.telegram.hook import Hook
from bots.telegram.notify import delivery_error
from bots.telegram.render import Outgoing, Parts
from bots.telegram.store import CHANNEL
from conversation.replies import Reply
from notify import kept
from notify.limits import REPLY
from tickets import outbox
from tickets.store import Store

log = logging.getLogger(__name__)

REPLY_RETRIES = 2  # a dialogue reply waits out this many 429s before it is kept


class DialogueReplies:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        out: Outgoing,
        cards: Cards,
        wake: Callable[[], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.engine = engine
        self.out = out
        self.cards = cards
        self.wake = wake
        self.clock = clock

    async def send(
        self,
        chat: int,
        replies: Sequence[Reply],
        *,
        pressed: tuple[int, bool] | None = None,
        outcome: bool = False,
        hook: Hook | None = None,
    ) -> None:
        """Send a dialogue reply; a job card in it edits the chat's card of that ticket
        (``bots.telegram.cards``) when it is an action's outcome — right after its
        confirmation, or ``outcome`` (the confirmation went into a toast), or pressed on
        the card — and is sent anew when the person asked to see the job. ``hook``: the
        webhook's answer may carry the reply when it is one plain message."""
        card = None
        if may_hold_card(replies):  # the locale is a read: only when it is needed
            card = find_card(replies, self.engine.locale_of(CHANNEL, str(chat)))
        if card is None:
            await self.now(chat, replies, hook)
            return
        key = str(chat)
        await self.now(chat, replies[: card.start])
        rest = replies[card.start :]
        if self._kept_waiting(key):
            self._keep(key, rest, 0)
            return
        try:
            # A card right after a confirmation is an action's outcome: edit the card.
            edit = outcome or card.start > 0 or pressed is not None
            await self.cards.place(
                chat, card, rest[: card.end - card.start], edit=edit, pressed=pressed
            )
        except TelegramError as exc:
            if not delivery_error(exc).retry:
                raise
            log.warning("card to Telegram chat %s not sent (%s): kept for retry", chat, exc)
            self._keep(key, rest, 0)
            return
        await self.now(chat, replies[card.end :])

    async def now(self, chat: int, replies: Sequence[Reply], hook: Hook | None = None) -> None:
        """Send a dialogue reply now. One the platform cannot take at the moment (a 502,
        a time-out) is kept as a lane-0 outbox row and retried like a notice (bounded by
        max_attempts), before later messages to that chat: a later reply waits behind it
        too (issue 10, defect 6). A reply that can never go (blocked bot) is only logged."""
        if not replies:
            return
        key = str(chat)
        if self._kept_waiting(key):
            self._keep(key, replies, 0)
            return
        parts = Parts()
        try:
            await self.out.send(
                chat, replies, retries=REPLY_RETRIES, lane=REPLY, parts=parts, hook=hook, lean=True
            )
        except TelegramError as exc:
            if not delivery_error(exc).retry:
                raise
            log.warning("reply to Telegram chat %s not sent (%s): kept for retry", chat, exc)
            self._keep(key, replies, parts.done)

    def _kept_waiting(self, chat: str) -> bool:
        return bool(
            self.store.query(
                "SELECT 1 FROM outbox WHERE channel = ? AND chat = ? AND status = 'pending'"
                " AND kind = ? LIMIT 1",
                [CHANNEL, chat, outbox.REPLY_KIND],
            )
        )

    def _keep(self, chat: str, replies: Sequence[Reply], parts_sent: int) -> None:
        key = f"reply:{chat}:{uuid.uuid4().hex}"
        with self.store.transaction():
            outbox.queue(
                self.store,
                key=key,
                number=None,
                event_id=None,
                kind=outbox.REPLY_KIND,
                channel=CHANNEL,
                chat=chat,
                locale=self.engine.locale_of(CHANNEL, chat),
                params={"replies": kept.encode(replies)},
                priority=REPLY,
                now=self.clock(),
            )
            if parts_sent:
                (row,) = self.store.query("SELECT id FROM outbox WHERE key = ?", [key])
                outbox.mark_parts(self.store, row["id"], parts_sent)
        self.wake()
