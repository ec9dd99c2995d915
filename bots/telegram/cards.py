"""The one job card a technician's private chat shows of a ticket (issue 12, item 11).

The technician flow answers a job action with a confirmation and the job card again
(``conversation.technician.outcome``: a ``Say``, the reporter's photos, the card's
``Ask``). Sent as they are, every press added three messages. Here the card is found in
the replies (``find_card``: inline buttons that are exactly the card's ``t:<verb>:<N>``
buttons with their catalog labels) and placed once:

- the first time as one message — the photo with the card as its caption and buttons
  when the ticket has one photo and the card fits a caption, else the photos and then
  the card — and remembered in ``telegram_messages``;
- afterwards by editing that message (``editMessageText``, or ``editMessageCaption``
  for a card with a photo) with the new text and the new buttons in the same edit.

The caller answers the press with a short toast (``toast``) instead of the
confirmation. Nothing here decides what the card says: the flow does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bots.telegram.incoming import Pressed
from bots.telegram.render import MAX_CAPTION, MAX_TEXT, Outgoing, markup
from bots.telegram.store import TelegramTables
from conversation.i18n import translate
from conversation.replies import Ask, Choice, Reply, Say, ShowPhotos
from notify.limits import REPLY

log = logging.getLogger(__name__)

CARD_VERBS = frozenset({"claim", "signin", "resume", "done", "pause", "release"})
"""The verbs of the card's buttons (``conversation.technician._CARD_BUTTONS``)."""
TOASTS = {"claim": "claim", "here": "signin", "pause": "pause", "resume": "resume"}
"""Button verb → ``telegram.toast.*``: what a press that did it says in its toast."""
MAX_TOAST = 50
RETRIES = 2  # a card waits out this many 429s, like any dialogue reply


@dataclass(frozen=True)
class Card:
    number: str
    text: str
    choices: tuple[Choice, ...]
    photos: tuple[str, ...]
    start: int  # the card's replies are replies[start:end]
    end: int


def may_hold_card(replies: Sequence[Reply]) -> bool:
    """Cheap first look (no locale needed): could ``find_card`` find one here?"""
    return any(
        isinstance(r, Ask) and r.inline and r.choices and r.choices[0].data.startswith("t:")
        for r in replies
    )


def find_card(replies: Sequence[Reply], locale: str) -> Card | None:
    """The job card among the replies, if there is one."""
    for k, reply in enumerate(replies):
        if not (isinstance(reply, Ask) and reply.inline and reply.choices):
            continue
        number = _card_number(reply.choices, locale)
        if not number:
            continue
        start = k
        photos: tuple[str, ...] = ()
        before = replies[k - 1] if k else None
        caption = translate(locale, "technician.photos", number=number)
        if isinstance(before, ShowPhotos) and before.caption == caption:
            start = k - 1
            photos = before.refs
        return Card(number, reply.text, reply.choices, photos, start, k + 1)
    return None


def _card_number(choices: Sequence[Choice], locale: str) -> str:
    numbers = set()
    for choice in choices:
        parts = choice.data.split(":")
        if len(parts) != 3 or parts[0] != "t" or parts[1] not in CARD_VERBS:
            return ""
        if choice.label != translate(locale, f"technician.btn_{parts[1]}"):
            return ""  # "抢单 BX…" in a job list is not a card
        numbers.add(parts[2])
    return numbers.pop() if len(numbers) == 1 else ""


def toast(data: str, replies: Sequence[Reply], card: Card | None, locale: str) -> str:
    """The short answer of a press that changed its ticket, when the replies begin
    with a confirmation right before the card (the caller then leaves it out)."""
    verb = data.split(":")[1] if data.count(":") >= 2 else ""
    if card is None or card.start != 1 or not isinstance(replies[0], Say):
        return ""
    key = TOASTS.get(verb)
    text = translate(locale, f"telegram.toast.{key}") if key else replies[0].text
    return text if len(text) <= MAX_TOAST else ""


class Cards:
    def __init__(self, bot: ExtBot[Any], out: Outgoing, tables: TelegramTables) -> None:
        self.bot = bot
        self.out = out
        self.tables = tables

    async def place(
        self,
        chat: int,
        card: Card,
        replies: Sequence[Reply],
        *,
        edit: bool = True,
        pressed: tuple[int, bool] | None = None,
    ) -> None:
        """Edit the chat's card of the ticket (``pressed``: the card whose button was
        pressed), or send ``replies`` (the card's own) as the card. With ``edit`` False
        (the person asked to see the job) it is sent anew, at the bottom of the chat.
        Errors other than "cannot edit that message" propagate."""
        keys = markup(Ask(card.text, card.choices, inline=True))
        assert isinstance(keys, InlineKeyboardMarkup)
        known = pressed or self.tables.card(str(chat), card.number)
        if edit and known is not None:
            message_id, photo = known
            try:
                if await self._edit(chat, message_id, photo, card.text, keys):
                    self.tables.remember_card(str(chat), message_id, card.number, photo=photo)
                    return
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    return  # pressed twice: the card already says this
                log.info("card of %s in %s not edited (%s): sent anew", card.number, chat, exc)
            self.tables.forget_card(str(chat), card.number)
        await self._send(chat, card, replies, keys)

    async def _edit(
        self, chat: int, message_id: int, photo: bool, text: str, keys: InlineKeyboardMarkup
    ) -> bool:
        if photo and len(text) <= MAX_CAPTION:
            await self.bot.edit_message_caption(
                chat_id=chat, message_id=message_id, caption=text, reply_markup=keys
            )
            return True
        if not photo and len(text) <= MAX_TEXT:
            await self.bot.edit_message_text(
                text, chat_id=chat, message_id=message_id, reply_markup=keys
            )
            return True
        # Outgrew its message (a caption holds 1,024 characters): the old one loses its
        # buttons, so that only the new card acts.
        await self.bot.edit_message_reply_markup(chat_id=chat, message_id=message_id)
        return False

    async def _send(
        self, chat: int, card: Card, replies: Sequence[Reply], keys: InlineKeyboardMarkup
    ) -> None:
        paths = [p for p in (self.out.media_path(ref) for ref in card.photos) if p is not None]
        if len(paths) == 1 and len(card.text) <= MAX_CAPTION:
            sent = await self.bot.send_photo(
                chat, paths[0], caption=card.text, reply_markup=keys, rate_limit_args=RETRIES
            )
            self.tables.remember_card(str(chat), sent.message_id, card.number, photo=True)
            return
        messages = await self.out.send(chat, replies, retries=RETRIES, lane=REPLY)
        if messages:
            self.tables.remember_card(str(chat), messages[-1].message_id, card.number, photo=False)

    @staticmethod
    def pressed(query: Pressed, number: str) -> tuple[int, bool] | None:
        """(message id, has a photo) if the pressed message is a card of the ticket: its
        buttons are card buttons of that ticket only. An offer or a job list (with a
        Claim button) is not: an offer is edited to "claimed by" on its own."""
        datas = query.buttons
        for data in datas:
            parts = data.split(":")
            verb_ok = len(parts) == 3 and parts[1] in CARD_VERBS - {"claim"}
            if parts[0] != "t" or not verb_ok or parts[2] != number:
                return None
        if query.message_id is None or not datas:
            return None
        return (query.message_id, query.photo)

    async def retire(self, chat: int, number: str) -> None:
        """The job left this technician's hands (completed, handed back): the card's
        buttons go, so that no stale button is pressed."""
        known = self.tables.card(str(chat), number)
        if known is None:
            return
        self.tables.forget_card(str(chat), number)
        try:
            await self.bot.edit_message_reply_markup(chat_id=chat, message_id=known[0])
        except BadRequest as exc:
            log.info("card of %s in %s not retired: %s", number, chat, exc)
