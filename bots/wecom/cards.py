"""Job offers as WeCom template cards (按钮交互型) with a 抢单 button, and their update
once the job is taken.

``offer_card`` turns a rendered ``team.offer`` (or ``team.reoffer``) into the body of a
``message/send`` of ``msgtype`` ``template_card``: the first line is the title, the job's
lines its text, each inline choice a button whose key is the choice's payload
(``t:claim:<N>``) — so a press is the same ``Button`` event as a Telegram press. The
``task_id`` (unique per app, WeCom's rule) is made from the job and the outbox row.

``Cards.close`` turns every open card of a taken job into "已由 张师傅 接单" (or "no longer
open") with ``message/update_template_card``, one call per receiver with the code WeCom
gave for that card. A code spent or expired cannot be used again: that card is given up
on; WeCom busy or unreachable: it stays open and the next sweep tries again.

Nothing here decides who may claim: the workflow does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from bots.wecom.client import WeChatError, WeComClient
from bots.wecom.store import Card, WeComTables
from config.model import Config
from conversation.i18n import translate
from conversation.replies import Ask, Reply
from tickets.store import Store

log = logging.getLogger(__name__)

OFFER_KINDS = frozenset({"team.offer", "team.reoffer"})
TITLE_CHARS = 36  # WeCom shows a main title of about 36 characters
TEXT_CHARS = 160  # and a sub-title text of about 160
MAX_BUTTONS = 6
RETRIED = frozenset({-1, 45009, 45033})
"""WeCom busy, API frequency and concurrency limits: tried again later."""
_TASK_CHARS = re.compile(r"[^0-9A-Za-z_@-]")


def task_id(number: str, row_id: int) -> str:
    """A task id WeCom accepts (digits, letters, ``_-@``, at most 128 bytes), unique per
    outbox row: a job offered again gets a new card."""
    return _TASK_CHARS.sub("_", f"{number}-{row_id}")[:128]


def offer_card(userid: str, replies: Sequence[Reply], task: str) -> dict[str, Any] | None:
    """The ``message/send`` body of an offer's card; None when the replies hold no
    choices (then the notice goes as text)."""
    ask = next((r for r in replies if isinstance(r, Ask) and r.choices), None)
    if ask is None:
        return None
    lines = [line for line in ask.text.splitlines() if line.strip()]
    title, rest = (lines[0], lines[1:]) if lines else ("", [])
    text = "\n".join(rest)
    if len(text) > TEXT_CHARS:
        text = text[: TEXT_CHARS - 1] + "…"
    buttons = [
        {"text": choice.label, "style": 1, "key": choice.data}
        for choice in ask.choices[:MAX_BUTTONS]
    ]
    card = {
        "card_type": "button_interaction",
        "main_title": {"title": title[:TITLE_CHARS]},
        "sub_title_text": text,
        "task_id": task,
        "button_list": buttons,
    }
    return {"touser": userid, "msgtype": "template_card", "template_card": card}


class Cards:
    """The offers sent as cards, closed once their job is taken."""

    def __init__(self, store: Store, tables: WeComTables, client: WeComClient, config: Config):
        self.store = store
        self.tables = tables
        self.client = client
        self.config = config
        self._lock = asyncio.Lock()  # a sweep and a press must not spend one code twice

    async def close(self, number: str | None = None) -> int:
        """Update the open cards of taken jobs (of ``number`` only, when given); return
        how many were updated."""
        async with self._lock:
            updated = 0
            for card in self.tables.to_close(number):
                text = self._closed_text(card)
                body = {
                    "userids": [card.userid],
                    "response_code": card.response_code,
                    "button": {"replace_name": text},
                }
                try:
                    await self.client.update_card(body)
                    updated += 1
                except WeChatError as error:
                    if error.code in RETRIED or error.code is None:
                        log.info("card %s not updated yet: %s", card.task_id, error)
                        continue
                    log.warning("card %s cannot be updated: %s", card.task_id, error)
                self.tables.closed(card.task_id)
            return updated

    def _closed_text(self, card: Card) -> str:
        ticket = self.store.ticket(card.number)
        if ticket is not None and ticket.holder:
            person = self.config.technician(ticket.holder)
            name = person.name if person else ticket.holder
            return translate(card.locale, "wecom.card_claimed", name=name)
        state = ticket.state.value if ticket is not None else "closed"
        return translate(
            card.locale, "wecom.card_closed", state=translate(card.locale, f"states.{state}")
        )

    async def sweep(self, stop: asyncio.Event, every: float) -> None:
        """Close cards of jobs taken elsewhere (Telegram, the console, a rule)."""
        while not stop.is_set():
            try:
                if self.tables.has_open():
                    await self.close()
            except Exception:  # a sweep must outlive a bad moment of the database
                log.exception("WeCom card sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
