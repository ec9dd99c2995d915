"""WeChat callback fields → conversation events.

Text (a typed number answers the chat's standing offer: ``bots.channel.choices``; a tap
on a ``msgmenu`` item comes as text with its ``bizmsgmenuid``: ``bots.wechat.msgmenu``), image
(downloaded by MediaId through the API, checked like every photo: a step that takes one,
the size cap, 20 an hour, the bytes must be an image), location message, voice (the Recognition
text, else a localized hint), subscribe / SCAN (``qrscene_east__b1`` pre-fills area and
building like ``/chat?area=…``), CLICK menu keys. ``LOCATION`` events (the periodic
position report) and unsubscribe make no event.

Only translation: no dialogue decisions; the store only to read the standing offer and
the photo cap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bots.channel.choices import OfferTable, pick
from bots.channel.media import IMAGE_EXTENSIONS, image_type, keep_photo
from bots.wechat.client import WeChatClient, WeChatError
from bots.wechat.msgmenu import tapped
from bots.wechat.store import WeChatTables
from conversation.events import Button, Command, InEvent, Location, Photo, Unsupported, parse_text
from conversation.i18n import translate

log = logging.getLogger(__name__)

MEDIA_FOLDER = "wechat"
PHOTOS_PER_HOUR = 20
"""Pictures one follower may send in an hour: the web chat's cap (a report takes at most
4, a completion 4)."""
MENU_COMMANDS = {"report": Command("report"), "mine": Command("my"), "status": Command("status")}
_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=&")


@dataclass(frozen=True)
class NotTaken:
    """An input answered by the adapter itself (catalog key + params)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


Nothing = None
"""An input that makes no event and no answer (unsubscribe, a LOCATION event)."""

Taken = InEvent | NotTaken | None


def scene(event_key: str) -> str:
    """The deep-link payload of a QR code's scene (``qrscene_`` on subscribe)."""
    payload = event_key.removeprefix("qrscene_").strip()
    return payload if payload and len(payload) <= 64 and set(payload) <= _CODE_CHARS else ""


class Inbound:
    def __init__(
        self,
        client: WeChatClient,
        offers: OfferTable,
        tables: WeChatTables,
        media_dir: Path,
        max_file_mb: int,
    ) -> None:
        self.client = client
        self.tables = tables
        self.offers = offers
        self.media_dir = media_dir
        self.max_file_mb = max_file_mb

    def text(self, chat: str, text: str, menu_id: str = "") -> InEvent | NotTaken:
        """Typed text, or a tap on a ``msgmenu`` item (``menu_id``: its bizmsgmenuid)."""
        if menu_id:
            offer = self.offers.get(chat)
            tap = tapped(menu_id, text, offer)
            if tap is not None:
                return tap
            # An old menu: its label may still be a choice now, else it is out of date.
            same = {c.data for c in offer.choices if c.label.strip() == text.strip()}
            return Button(same.pop()) if len(same) == 1 else NotTaken("wechat.msgmenu.stale")
        if text.strip().startswith("/"):
            return parse_text(text)
        picked = pick(text, self.offers.get(chat), lambda label: label)
        if isinstance(picked, str):
            return NotTaken("wechat.ambiguous", {"label": picked})
        return picked if picked is not None else parse_text(text)

    def event_of(self, fields: dict[str, Any], photo: Photo | NotTaken | None = None) -> Taken:
        """The event of a callback's fields. Synchronous, store reads only (the standing
        offer): it runs inside the step's transaction. An image's ``photo`` is what
        ``fetch_photo`` made of it beforehand."""
        chat = str(fields.get("FromUserName", ""))
        kind = str(fields.get("MsgType", "")).lower()
        if kind == "text":
            menu_id = str(fields.get("bizmsgmenuid") or "")
            return self.text(chat, str(fields.get("Content", "")), menu_id)
        if kind == "location":
            try:
                lat, lon = float(fields["Location_X"]), float(fields["Location_Y"])
            except (KeyError, TypeError, ValueError):
                return Unsupported("location")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return Unsupported("location")
            return Location(lat, lon)
        if kind == "image":
            return photo if photo is not None else NotTaken("wechat.download_failed")
        if kind == "voice":
            heard = str(fields.get("Recognition") or "").strip()
            return self.text(chat, heard) if heard else NotTaken("wechat.voice_hint")
        if kind == "event":
            return self._event(
                str(fields.get("Event", "")).lower(), str(fields.get("EventKey") or "")
            )
        return Unsupported(kind or "other")

    @staticmethod
    def has_photo(fields: dict[str, Any]) -> bool:
        return str(fields.get("MsgType", "")).lower() == "image"

    def photo_allowed(self, chat: str, wanted: bool, now: datetime) -> NotTaken | None:
        """Why an image is not downloaded (the dialogue takes none now, the hourly cap),
        or None."""
        if not wanted:
            return NotTaken("wechat.photo_not_now")
        if self.tables.photos_since(chat, now - timedelta(hours=1)) >= PHOTOS_PER_HOUR:
            return NotTaken("wechat.photo_quota", {"limit": PHOTOS_PER_HOUR})
        return None

    async def fetch_photo(self, fields: dict[str, Any]) -> Photo | NotTaken:
        """Download an image by its MediaId (on the event loop: network only)."""
        return await self._photo(str(fields.get("MediaId", "")))

    def _event(self, event: str, key: str) -> InEvent | None:
        if event == "subscribe":
            return Command("start", scene(key))
        if event == "scan":
            return Command("start", scene(key))
        if event == "click":
            return MENU_COMMANDS.get(key, Command("help"))
        return Nothing  # unsubscribe, LOCATION, VIEW, template delivery reports

    async def _photo(self, media_id: str) -> Photo | NotTaken:
        limit = self.max_file_mb * 1024 * 1024
        try:
            data, _kind = await self.client.media(media_id, limit)
        except WeChatError as error:
            if error.code == 0:
                return NotTaken("wechat.too_large", {"limit": self.max_file_mb})
            log.warning("WeChat image %s not downloaded: %s", media_id, error)
            return NotTaken("wechat.download_failed")
        proven = image_type(data[:16])
        if proven is None:
            return NotTaken("wechat.download_failed")
        return Photo(keep_photo(self.media_dir, MEDIA_FOLDER, IMAGE_EXTENSIONS[proven], data), "")


def hint(locale: str, taken: NotTaken) -> str:
    return translate(locale, taken.key, **taken.params)
