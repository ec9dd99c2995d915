"""WeCom callback fields → conversation events.

Text (a typed number answers the chat's standing offer: ``bots.channel.choices``),
location message (签到 with a location), image (downloaded by MediaId through the API
and checked like every photo: a step that takes one, the size cap, 20 an hour per
member, the bytes must be an image), voice (WeCom's recognition text, else a hint), a
press on a card's button (``template_card_event``: the ``Button`` of its key, as a
Telegram press), menu CLICK keys, subscribe (the menu). Opening the app
(``enter_agent``), periodic LOCATION reports and the rest make no event.

Only translation: no dialogue decisions; the store only to read the standing offer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bots.channel.choices import OfferTable
from bots.channel.inbound import NotTaken, heard, shared_location, typed
from bots.wechat.media import fetch_photo
from bots.wecom.client import WeComClient
from bots.wecom.store import CHANNEL
from conversation.events import Button, Command, InEvent, Photo, Unsupported

PHOTOS_PER_HOUR = 20
"""Pictures one member may send in an hour (a completion takes at most 4)."""
CARD_EVENT = "template_card_event"
MENU_COMMANDS = {
    "report": Command("report"),
    "mine": Command("my"),
    "status": Command("status"),
    "jobs": Command("jobs"),
}


Taken = InEvent | NotTaken | None


class Inbound:
    def __init__(
        self, client: WeComClient, offers: OfferTable, media_dir: Path, max_file_mb: int
    ) -> None:
        self.client = client
        self.offers = offers
        self.media_dir = media_dir
        self.max_file_mb = max_file_mb
        # Per member, when their last pictures were taken (this process: a cap, not a count).
        self._taken: dict[str, deque[float]] = {}

    def text(self, chat: str, text: str) -> InEvent | NotTaken:
        return typed(text, lambda: self.offers.get(chat), CHANNEL)

    async def event_of(self, fields: dict[str, Any], photo_wanted: Callable[[], bool]) -> Taken:
        """The event of a callback's fields; ``photo_wanted()`` says whether the member's
        dialogue takes a photo now (asked only for an image)."""
        chat = str(fields.get("FromUserName", ""))
        kind = str(fields.get("MsgType", "")).lower()
        if kind == "text":
            return self.text(chat, str(fields.get("Content", "")))
        if kind == "location":
            return shared_location(fields.get("Location_X"), fields.get("Location_Y"))
        if kind == "image":
            if not photo_wanted():
                return NotTaken("wecom.photo_not_now")
            return await self._photo(chat, str(fields.get("MediaId", "")))
        if kind == "voice":
            return heard(fields.get("Recognition"), lambda words: self.text(chat, words), CHANNEL)
        if kind == "event":
            event, key = str(fields.get("Event", "")), str(fields.get("EventKey") or "")
            if event == CARD_EVENT:
                return Button(key)
            if event.lower() == "click":
                return MENU_COMMANDS.get(key, Command("help"))
            if event.lower() == "subscribe":
                return Command("start")
            return None  # enter_agent, LOCATION reports, view, …
        return Unsupported(kind or "other")

    async def _photo(self, chat: str, media_id: str) -> Photo | NotTaken:
        now = time.monotonic()
        taken = self._taken.setdefault(chat, deque())
        while taken and now - taken[0] > 3600:
            taken.popleft()
        if len(taken) >= PHOTOS_PER_HOUR:
            return NotTaken("wecom.photo_quota", {"limit": PHOTOS_PER_HOUR})
        photo = await fetch_photo(self.client, media_id, self.max_file_mb, self.media_dir, CHANNEL)
        if isinstance(photo, Photo):
            taken.append(now)
        return photo
