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

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bots.channel.choices import OfferTable
from bots.channel.inbound import NotTaken, heard, shared_location, typed
from bots.wechat.client import WeChatClient
from bots.wechat.media import fetch_photo
from bots.wechat.msgmenu import tapped
from bots.wechat.store import CHANNEL, WeChatTables
from conversation.events import Button, Command, InEvent, Photo, Unsupported

PHOTOS_PER_HOUR = 20
"""Pictures one follower may send in an hour: the web chat's cap (a report takes at most
4, a completion 4)."""
MENU_COMMANDS = {"report": Command("report"), "mine": Command("my"), "status": Command("status")}
_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=&")

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
        return typed(text, lambda: self.offers.get(chat), CHANNEL)

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
            return shared_location(fields.get("Location_X"), fields.get("Location_Y"))
        if kind == "image":
            return photo if photo is not None else NotTaken("wechat.download_failed")
        if kind == "voice":
            return heard(fields.get("Recognition"), lambda words: self.text(chat, words), CHANNEL)
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
        media_id = str(fields.get("MediaId", ""))
        return await fetch_photo(self.client, media_id, self.max_file_mb, self.media_dir, CHANNEL)

    def _event(self, event: str, key: str) -> InEvent | None:
        if event == "subscribe":
            return Command("start", scene(key))
        if event == "scan":
            return Command("start", scene(key))
        if event == "click":
            return MENU_COMMANDS.get(key, Command("help"))
        return Nothing  # unsubscribe, LOCATION, VIEW, template delivery reports
