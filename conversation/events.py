"""Inbound events: what a person sent, already translated from the platform's format."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Command:
    """``/name arg`` — ``name`` is lower-case without the slash."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class Button:
    """A press on a choice button; ``data`` is the choice's payload."""

    data: str


@dataclass(frozen=True)
class Contact:
    """A shared contact. ``own`` is True when the platform verified it is the sender's."""

    phone: str
    own: bool = False


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Photo:
    """A photo already saved by the adapter; ``ref`` is its path under the media folder."""

    ref: str
    caption: str = ""


@dataclass(frozen=True)
class Unsupported:
    """Something we cannot use here: a sticker, a voice note, a file…"""

    kind: str


InEvent = Text | Command | Button | Contact | Location | Photo | Unsupported


def parse_text(text: str) -> InEvent:
    """Turn typed text into a ``Command`` when it starts with a slash, else ``Text``."""
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        head, _, arg = stripped[1:].partition(" ")
        name = head.split("@", 1)[0].lower()  # /start@MyBot in groups
        if name and name.replace("_", "").isalnum():
            return Command(name, arg.strip())
    return Text(text)


_MAX_NUMBER_DIGITS = 9


def typed_number(text: str) -> int | None:
    """A number typed to pick a choice or name a record: plain ASCII digits of sane
    length, else ``None``. ``str.isdigit`` accepts ``²`` and ``①``, which ``int`` refuses,
    and ``int`` of 5,000 nines trips Python's digit limit: both are text, not numbers."""
    text = text.strip()
    if not text or len(text) > _MAX_NUMBER_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)
