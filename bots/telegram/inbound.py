"""Telegram messages → conversation events.

Text and commands (``/start east__b1`` keeps its payload for the deep-link pre-fill),
a shared contact (``own`` when Telegram says it is the sender's: ``contact.user_id ==
from_user.id``), a location or venue, a photo (the largest size, or an image sent as a
file) downloaded into the media folder with its caption; everything else is
``Unsupported``. A file over the download limit is not fetched: the caller tells the
person so in their language.

Only translation: no dialogue decisions, no store.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Message
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from conversation.events import Contact, InEvent, Location, Photo, Unsupported, parse_text

log = logging.getLogger(__name__)

MEDIA_FOLDER = "telegram"  # photos land in <media_dir>/telegram/
IMAGE_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
}
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNSUPPORTED = (
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "poll",
    "dice",
    "game",
    "story",
)


@dataclass(frozen=True)
class NotTaken:
    """An input the adapter refuses before the dialogue sees it (catalog key + params)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


def plain_event(message: Message) -> InEvent | None:
    """A text, a shared contact or a location as its event; None for anything else
    (a photo, a file: ``Inbound.event_of`` reads those). bots.telegram.incoming reads
    the same from the update's JSON."""
    if Inbound.is_photo(message):
        return None
    if message.text is not None:
        return parse_text(message.text)
    if message.contact is not None:
        contact = message.contact
        sender = message.from_user
        own = sender is not None and contact.user_id == sender.id
        phone = contact.phone_number.strip()
        if own and phone and not phone.startswith("+"):
            # Telegram gives an account's own number in international form, no "+".
            phone = "+" + phone
        return Contact(phone, own=own)
    if message.location is not None:
        return Location(message.location.latitude, message.location.longitude)
    return None


class Inbound:
    def __init__(self, bot: ExtBot[Any], media_dir: Path, max_file_mb: int) -> None:
        self.bot = bot
        self.media_dir = media_dir
        self.max_bytes = max_file_mb * 1024 * 1024
        self.max_file_mb = max_file_mb

    @staticmethod
    def is_photo(message: Message) -> bool:
        """Whether ``event_of`` would download this message as a photo."""
        document = message.document
        return bool(message.photo) or (
            document is not None and (document.mime_type or "") in IMAGE_TYPES
        )

    async def event_of(self, message: Message) -> InEvent | NotTaken:
        plain = plain_event(message)
        if plain is not None:
            return plain
        caption = message.caption or ""
        if message.photo:
            largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
            return await self._photo(
                largest.file_id, largest.file_unique_id, largest.file_size, ".jpg", caption
            )
        document = message.document
        if document is not None and (document.mime_type or "") in IMAGE_TYPES:
            suffix = IMAGE_TYPES[document.mime_type or ""]
            return await self._photo(
                document.file_id, document.file_unique_id, document.file_size, suffix, caption
            )
        for kind in _UNSUPPORTED:
            if getattr(message, kind, None):
                return Unsupported(kind)
        return Unsupported("other")

    async def _photo(
        self, file_id: str, unique_id: str, size: int | None, suffix: str, caption: str
    ) -> Photo | NotTaken:
        if size is not None and size > self.max_bytes:
            return self._too_large(size)
        name = unique_id if _SAFE_NAME.fullmatch(unique_id) else uuid.uuid4().hex
        folder = self.media_dir / MEDIA_FOLDER
        try:
            tg_file = await self.bot.get_file(file_id)
            if tg_file.file_size is not None and tg_file.file_size > self.max_bytes:
                return self._too_large(tg_file.file_size)
            folder.mkdir(parents=True, exist_ok=True)
            await tg_file.download_to_drive(folder / f"{name}{suffix}")
        except BadRequest as exc:
            if "too big" in exc.message.lower():  # the Bot API refuses files over 20 MB
                return NotTaken("telegram.too_large", {"size": ">20", "limit": self.max_file_mb})
            log.warning("photo %s not downloaded: %s", file_id, exc)
            return NotTaken("telegram.download_failed")
        except (TelegramError, OSError) as exc:
            log.warning("photo %s not downloaded: %s", file_id, exc)
            return NotTaken("telegram.download_failed")
        return Photo(f"{MEDIA_FOLDER}/{name}{suffix}", caption)

    def _too_large(self, size: int) -> NotTaken:
        megabytes = max(1, round(size / (1024 * 1024)))
        return NotTaken("telegram.too_large", {"size": megabytes, "limit": self.max_file_mb})
