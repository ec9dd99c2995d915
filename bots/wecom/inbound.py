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

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bots.channel.choices import OfferTable, pick
from bots.channel.media import IMAGE_EXTENSIONS, image_type, keep_photo
from bots.wecom.client import WeChatError, WeComClient
from conversation.events import Button, Command, InEvent, Location, Photo, Unsupported, parse_text
from conversation.i18n import translate

log = logging.getLogger(__name__)

MEDIA_FOLDER = "wecom"
PHOTOS_PER_HOUR = 20
"""Pictures one member may send in an hour (a completion takes at most 4)."""
CARD_EVENT = "template_card_event"
MENU_COMMANDS = {
    "report": Command("report"),
    "mine": Command("my"),
    "status": Command("status"),
    "jobs": Command("jobs"),
}


@dataclass(frozen=True)
class NotTaken:
    """An input answered by the adapter itself (catalog key + params)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, locale: str) -> str:
        return translate(locale, self.key, **self.params)


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
        if text.strip().startswith("/"):
            return parse_text(text)
        picked = pick(text, self.offers.get(chat), lambda label: label)
        if isinstance(picked, str):
            return NotTaken("wecom.ambiguous", {"label": picked})
        return picked if picked is not None else parse_text(text)

    async def event_of(self, fields: dict[str, Any], photo_wanted: Callable[[], bool]) -> Taken:
        """The event of a callback's fields; ``photo_wanted()`` says whether the member's
        dialogue takes a photo now (asked only for an image)."""
        chat = str(fields.get("FromUserName", ""))
        kind = str(fields.get("MsgType", "")).lower()
        if kind == "text":
            return self.text(chat, str(fields.get("Content", "")))
        if kind == "location":
            try:
                lat, lon = float(fields["Location_X"]), float(fields["Location_Y"])
            except (KeyError, TypeError, ValueError):
                return Unsupported("location")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return Unsupported("location")
            return Location(lat, lon)
        if kind == "image":
            if not photo_wanted():
                return NotTaken("wecom.photo_not_now")
            return await self._photo(chat, str(fields.get("MediaId", "")))
        if kind == "voice":
            heard = str(fields.get("Recognition") or "").strip()
            return self.text(chat, heard) if heard else NotTaken("wecom.voice_hint")
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
        try:
            data, _kind = await self.client.media(media_id, self.max_file_mb * 1024 * 1024)
        except WeChatError as error:
            if error.code == 0:
                return NotTaken("wecom.too_large", {"limit": self.max_file_mb})
            log.warning("WeCom image %s not downloaded: %s", media_id, error)
            return NotTaken("wecom.download_failed")
        proven = image_type(data[:16])
        if proven is None:
            return NotTaken("wecom.download_failed")
        ref = keep_photo(self.media_dir, MEDIA_FOLDER, IMAGE_EXTENSIONS[proven], data)
        taken.append(now)
        return Photo(ref, "")
